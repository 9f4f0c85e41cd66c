"""What sbatch is given for one job: its options (an argument list) and a generated batch
script (on standard input).

The generated script sets the job's environment with quoted ``export`` lines and carries the
job's own script base64-encoded, so nothing in a job's name, environment or script is ever
read by a shell on the platform's host, and Slurm reads none of it as an option: ``#SBATCH``
lines in a user's script come after the first command of the generated one, where sbatch
no longer looks. The platform alone sets account, GPUs, time limit, nodes and output paths.
"""

from __future__ import annotations

import base64
import re
import shlex
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from booking.cluster.base import JobSpec

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_PLACEHOLDER = re.compile(r"\{(image|command|argv)\}")

PYXIS_TEMPLATE = """#!/bin/bash
# Container job through NVIDIA pyxis/enroot: the image runs the command on every node.
srun --container-image={image} /bin/sh -c {command}
"""
"""The default container template: sites with pyxis/enroot. ``{image}`` and ``{command}`` are
replaced by the quoted image and command (``{argv}``: the command split into quoted words)."""


class JobRefused(ValueError):
    """A job the backend will not send (its reason goes to the job's history)."""


@dataclass(frozen=True)
class SubmitOptions:
    """The site's part of every sbatch: naming, partition, QOS and where output goes."""

    account_prefix: str = "proj_"
    job_name_prefix: str = "sp-"
    reservation_prefix: str = "sp-"
    partition: str = ""
    qos: str = ""
    output_dir: str = ""
    work_dir: str = ""
    container_template: str = PYXIS_TEMPLATE

    def job_name(self, key: str) -> str:
        return f"{self.job_name_prefix}{key}"

    def account(self, project: str) -> str:
        if not _WORD.fullmatch(project):
            raise JobRefused(f"not an account name: {project!r}")
        return f"{self.account_prefix}{project}".lower()

    def reservation(self, name: str) -> str:
        if not _WORD.fullmatch(name):
            raise JobRefused(f"not a reservation name: {name!r}")
        return name if name.startswith(self.reservation_prefix) else self.reservation_prefix + name


def sbatch_arguments(
    spec: JobSpec,
    *,
    gres_type: str,
    nodes: int,
    node_names: Sequence[str],
    options: SubmitOptions,
) -> list[str]:
    """sbatch's options for ``spec`` on ``nodes`` nodes, pinned to ``node_names`` (empty:
    Slurm picks nodes of the GPU type). JobRefused when the request cannot be expressed
    safely."""
    if not _KEY.fullmatch(spec.key):
        raise JobRefused(f"not a submission key: {spec.key!r}")
    if not _WORD.fullmatch(gres_type):
        raise JobRefused(f"not a GRES type: {gres_type!r}")
    if nodes < 1 or (node_names and len(node_names) != nodes):
        raise JobRefused(f"{len(node_names)} node names for {nodes} nodes")
    per_node, rest = divmod(spec.gpus, nodes)
    if rest or per_node < 1:
        raise JobRefused(f"{spec.gpus} GPUs cannot be spread evenly over {nodes} nodes")
    arguments = [
        "--parsable",
        f"--job-name={options.job_name(spec.key)}",
        f"--comment={spec.key}",
        f"--account={options.account(spec.account)}",
        f"--time={spec.walltime_minutes}",
        f"--nodes={nodes}",
        f"--gres=gpu:{gres_type}:{per_node}",
        f"--output={options.output_dir}/{spec.key}.out",
        f"--error={options.output_dir}/{spec.key}.err",
        f"--chdir={options.work_dir or options.output_dir}",
        "--export=ALL",
        # A node failure ends the job (the platform's history says so); staff requeue it as a
        # new attempt with its own key instead of Slurm restarting it under the old one.
        "--no-requeue",
    ]
    if node_names:
        arguments.append(f"--nodelist={','.join(node_names)}")
    if options.partition:
        arguments.append(f"--partition={options.partition}")
    if options.qos:
        arguments.append(f"--qos={options.qos}")
    if spec.reservation:
        arguments.append(f"--reservation={options.reservation(spec.reservation)}")
    return arguments


def batch_script(spec: JobSpec, *, options: SubmitOptions) -> str:
    """The script sbatch reads on standard input: the environment, then the job's own script
    (or its container command through the site's template), decoded into a private file."""
    user_script = spec.script or container_script(
        spec.container_image, spec.command, options.container_template
    )
    environment = {
        "STARGATE_JOB_KEY": spec.key,
        "STARGATE_JOB_NAME": spec.name,
        "STARGATE_PROJECT": spec.account,
    } | dict(_checked_environment(spec.environment))
    exports = "\n".join(
        f"export {name}={shlex.quote(value)}" for name, value in environment.items()
    )
    encoded = "\n".join(textwrap.wrap(base64.b64encode(user_script.encode()).decode(), 76))
    runner = (
        '"$stargate_script"' if user_script.startswith("#!") else '/bin/bash "$stargate_script"'
    )
    return (
        "#!/bin/bash\n"
        f"# Stargate Portal job {spec.key}. Generated: the job's own script is decoded below\n"
        "# and run with this environment; its #SBATCH lines are not read.\n"
        f"{exports}\n"
        'stargate_script=$(mktemp "${TMPDIR:-/tmp}/stargate-job.XXXXXXXX") || exit 1\n'
        "trap 'rm -f \"$stargate_script\"' EXIT\n"
        "base64 -d >\"$stargate_script\" <<'STARGATE_SCRIPT'\n"
        f"{encoded}\n"
        "STARGATE_SCRIPT\n"
        'chmod 700 "$stargate_script"\n'
        f"{runner}\n"
    )


def container_script(image: str, command: str, template: str) -> str:
    """The batch script of a container job: ``template`` with the image and the command
    quoted for the shell (``{image}``, ``{command}`` as one word, ``{argv}`` as words)."""
    if not image.strip() or "\x00" in image + command:
        raise JobRefused("a container job needs an image (and no NUL bytes)")
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise JobRefused(f"the command cannot be split into words: {error}") from error
    values = {
        "image": shlex.quote(image.strip()),
        "command": shlex.quote(command),
        "argv": " ".join(shlex.quote(word) for word in words),
    }
    # One pass: a placeholder inside an image or command is never replaced again.
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)


def _checked_environment(environment: Mapping[str, str]) -> list[tuple[str, str]]:
    checked = []
    for name, value in environment.items():
        if not _ENV_NAME.fullmatch(str(name)):
            raise JobRefused(f"not an environment variable name: {name!r}")
        if "\x00" in str(value):
            raise JobRefused(f"the value of {name} contains a NUL byte")
        checked.append((str(name), str(value)))
    return checked
