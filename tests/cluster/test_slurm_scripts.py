"""What sbatch is given, without a cluster: its options are an argument list the platform
alone decides, and the generated batch script keeps every name, environment value, image and
command the user typed as data, never as shell code or as an sbatch option.

The generated scripts are run here with bash (the job's own script is a harmless printf), so
the tests see exactly what a job would see."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from booking.cluster.base import JobSpec
from booking.cluster.slurm.scripts import (
    PYXIS_TEMPLATE,
    JobRefused,
    SubmitOptions,
    batch_script,
    container_script,
    sbatch_arguments,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "deploy" / "slurm" / "container-templates"
HOSTILE = [
    "$(touch {marker})",
    "`touch {marker}`",
    "; touch {marker}",
    "x\ntouch {marker}\n",
    "'; touch {marker}; '",
    '"; touch {marker}; "',
    "$((1+1)) ${{HOME}} \\ \t end",
    "STARGATE_SCRIPT\ntouch {marker}",
]
OPTIONS = SubmitOptions(account_prefix="proj_", job_name_prefix="sp-", output_dir="/srv/out")


def spec(**overrides: object) -> JobSpec:
    fields: dict[str, object] = {
        "key": "0b6f0a1e-8d3c-4a57-9a39-5d1c1e2f3a4b",
        "name": "train",
        "account": "42",
        "gpu_type": "H100",
        "gpus": 2,
        "walltime_minutes": 30,
        "placement": ((0, 2),),
        "script": "#!/bin/bash\necho hi\n",
    }
    return JobSpec(**(fields | overrides))  # type: ignore[arg-type]


def run_script(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a generated batch script as Slurm would (bash, a fresh environment)."""
    path = tmp_path / "job.sh"
    path.write_text(script)
    return subprocess.run(
        ["/bin/bash", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        cwd=tmp_path,
    )


def test_sbatch_is_given_the_account_gres_time_name_comment_nodes_and_output_paths() -> None:
    args = sbatch_arguments(spec(), gres_type="h100", nodes=1, node_names=["gpu1"], options=OPTIONS)

    assert args == [
        "--parsable",
        "--job-name=sp-0b6f0a1e-8d3c-4a57-9a39-5d1c1e2f3a4b",
        "--comment=0b6f0a1e-8d3c-4a57-9a39-5d1c1e2f3a4b",
        "--account=proj_42",
        "--time=30",
        "--nodes=1",
        "--gres=gpu:h100:2",
        "--output=/srv/out/0b6f0a1e-8d3c-4a57-9a39-5d1c1e2f3a4b.out",
        "--error=/srv/out/0b6f0a1e-8d3c-4a57-9a39-5d1c1e2f3a4b.err",
        "--chdir=/srv/out",
        "--export=ALL",
        "--no-requeue",
        "--nodelist=gpu1",
    ]


def test_a_multi_node_job_asks_for_its_gpus_per_node_and_a_booking_for_its_reservation() -> None:
    options = SubmitOptions(output_dir="/o", partition="gpu", qos="normal")
    args = sbatch_arguments(
        spec(gpus=16, placement=((0, 8), (1, 8)), reservation="booking-7"),
        gres_type="h100",
        nodes=2,
        node_names=["gpu1", "gpu2"],
        options=options,
    )

    assert "--nodes=2" in args
    assert "--gres=gpu:h100:8" in args
    assert "--nodelist=gpu1,gpu2" in args
    assert args[-3:] == ["--partition=gpu", "--qos=normal", "--reservation=sp-booking-7"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key", "x;rm -rf /"),
        ("key", "--account=other"),
        ("account", "1 --qos=high"),
        ("account", "../x"),
        ("account", "42\n"),
        ("key", "0b6f0a1e\n--uid=0"),
        ("reservation", "r1 --uid=0"),
    ],
)
def test_a_hostile_key_account_or_reservation_is_refused_not_passed_on(
    field: str, value: str
) -> None:
    with pytest.raises(JobRefused):
        sbatch_arguments(
            spec(**{field: value}), gres_type="h100", nodes=1, node_names=[], options=OPTIONS
        )


@pytest.mark.parametrize("pattern", HOSTILE)
def test_a_hostile_name_or_environment_value_reaches_the_job_as_text_and_runs_nothing(
    pattern: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    value = pattern.format(marker=marker)
    script = batch_script(
        spec(
            name=value,
            environment={"HOSTILE": value},
            script='#!/bin/bash\nprintf "%s|%s" "$STARGATE_JOB_NAME" "$HOSTILE"\n',
        ),
        options=OPTIONS,
    )

    done = run_script(script, tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{value}|{value}"
    assert not marker.exists()


@pytest.mark.parametrize("name", ["1BAD", "BAD-NAME", "A B", "X=Y", "$(id)", "", "LD_PRELOAD\n"])
def test_an_environment_variable_with_an_impossible_name_is_refused(name: str) -> None:
    with pytest.raises(JobRefused, match="environment variable name"):
        batch_script(spec(environment={name: "1"}), options=OPTIONS)


def test_the_users_sbatch_lines_are_not_read_and_the_script_arrives_byte_for_byte(
    tmp_path: Path,
) -> None:
    own = (
        "#!/bin/bash\n"
        "#SBATCH --account=someone_else\n"
        "#SBATCH --gres=gpu:h100:8\n"
        "#SBATCH --qos=high\n"
        "cat <<'STARGATE_SCRIPT'\n'quoted' \"double\" $(not run) `nor this`\nSTARGATE_SCRIPT\n"
        "exit 7\n"
    )
    script = batch_script(spec(script=own), options=OPTIONS)
    directives_read_by_sbatch = []
    for line in script.splitlines()[1:]:
        if not line.startswith("#"):
            break  # sbatch stops reading #SBATCH lines at the first command
        directives_read_by_sbatch.append(line)

    done = run_script(script, tmp_path)

    assert not [line for line in directives_read_by_sbatch if line.startswith("#SBATCH")]
    assert "someone_else" not in script  # it travels base64-encoded
    assert done.stdout == "'quoted' \"double\" $(not run) `nor this`\n"
    assert done.returncode == 7
    assert list(tmp_path.glob("stargate-job.*")) == []  # the decoded copy is removed


def test_a_script_without_a_shebang_runs_with_bash_and_one_with_a_shebang_with_its_own(
    tmp_path: Path,
) -> None:
    plain = batch_script(spec(script="echo $BASH_VERSION | cut -c1"), options=OPTIONS)
    other = batch_script(spec(script="#!/bin/sh\necho from-sh\n"), options=OPTIONS)

    assert run_script(plain, tmp_path).stdout.strip().isdigit()
    assert run_script(other, tmp_path).stdout == "from-sh\n"


def test_the_generated_environment_carries_the_key_name_and_project_and_nothing_of_the_platform(
    tmp_path: Path,
) -> None:
    os.environ.setdefault("SECRET_KEY", "x")
    script = batch_script(
        spec(environment={"EPOCHS": "3"}, script="#!/bin/bash\nenv\n"), options=OPTIONS
    )

    seen = dict(
        line.split("=", 1)
        for line in run_script(script, tmp_path).stdout.splitlines()
        if "=" in line
    )

    assert seen["STARGATE_JOB_KEY"] == spec().key
    assert (seen["STARGATE_JOB_NAME"], seen["STARGATE_PROJECT"], seen["EPOCHS"]) == (
        "train",
        "42",
        "3",
    )
    assert "SECRET_KEY" not in seen
    assert "DATABASE_URL" not in seen


@pytest.mark.parametrize("template", ["pyxis.sh", "apptainer.sh"])
def test_the_site_templates_quote_a_hostile_image_and_command(template: str) -> None:
    image = "nvcr.io/nvidia/pytorch:24.05-py3$(touch /tmp/x)"
    command = "python train.py --lr 3e-4; echo `id` 'it''s'"

    script = container_script(image, command, (TEMPLATES / template).read_text())

    line = next(line for line in script.splitlines() if "srun" in line)
    words = shlex.split(line)
    assert words[-2:] == ["-c", command]
    assert any(word.endswith(image) for word in words)


def test_the_default_template_is_pyxis_and_braces_of_the_template_itself_are_kept() -> None:
    template = PYXIS_TEMPLATE + 'echo "${HOME}" {unknown}\nsrun {argv}\n'

    script = container_script("ubuntu:22.04", "python -c 'print(1)' {image}", template)

    assert "srun --container-image=ubuntu:22.04 /bin/sh -c 'python -c '\"'\"'print(1)" in script
    assert 'echo "${HOME}" {unknown}' in script
    assert "srun python -c 'print(1)' '{image}'" in script  # never replaced a second time


def test_a_container_job_runs_its_command_through_the_hosts_template(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    job = spec(
        script="",
        container_image=f"ubuntu:22.04$(touch {marker})",
        command=f"echo \"$STARGATE_CONTAINER_IMAGE\" '$(touch {marker})'",
    )
    options = SubmitOptions(output_dir="/o", container_template=(TEMPLATES / "host.sh").read_text())

    done = run_script(batch_script(job, options=options), tmp_path)

    assert done.stdout == f"ubuntu:22.04$(touch {marker}) $(touch {marker})\n"
    assert not marker.exists()


@pytest.mark.parametrize(("image", "command"), [("", "true"), ("x", "'unclosed"), ("x\x00", "t")])
def test_a_container_job_without_an_image_or_with_an_unsplittable_command_is_refused(
    image: str, command: str
) -> None:
    with pytest.raises(JobRefused):
        container_script(image, command, PYXIS_TEMPLATE)
