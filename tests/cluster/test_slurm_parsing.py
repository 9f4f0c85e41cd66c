"""Reading Slurm's answers without a cluster: node lists and states, squeue and sacct lines in
the platform's states and reasons, account limits, and telling "Slurm said no" from "Slurm is
not there". The samples are what Slurm 22.05 prints (``SLURM_TIME_FORMAT=%s``)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from booking.cluster.base import BackendState, BackendUnavailable, ClusterAccount
from booking.cluster.slurm import accounts
from booking.cluster.slurm.commands import Backoff, SlurmCommands, SlurmRefused
from booking.cluster.slurm.jobs import (
    accounted_job,
    live_job,
    parse_exit_code,
    parse_sacct,
    parse_squeue,
    wait_reason,
)
from booking.cluster.slurm.nodes import (
    hostnames,
    node_available,
    node_layout,
    parse_sinfo,
    reserved_nodes,
)


@pytest.mark.parametrize(
    ("hostlist", "names"),
    [
        ("gpu1", ["gpu1"]),
        ("gpu[1-3]", ["gpu1", "gpu2", "gpu3"]),
        ("gpu[08-10],login1", ["gpu08", "gpu09", "gpu10", "login1"]),
        ("r[1-2]n[1,3]", ["r1n1", "r1n3", "r2n1", "r2n3"]),
        ("(null)", []),
        ("", []),
    ],
)
def test_a_slurm_hostlist_expands_to_node_names(hostlist: str, names: list[str]) -> None:
    assert hostnames(hostlist) == names


@pytest.mark.parametrize(
    ("state", "usable"),
    [
        ("idle", True),
        ("mixed", True),
        ("allocated", True),
        ("idle~", True),  # powered down: Slurm resumes it on demand
        ("drained", False),
        ("draining", False),
        ("down", False),
        ("down*", False),
        ("idle*", False),  # not responding
        ("maint", False),
        ("fail", False),
        ("inval", False),
        ("unknown", False),
        ("idle$", False),  # in a maintenance reservation
    ],
)
def test_a_node_is_usable_only_in_a_working_state(state: str, usable: bool) -> None:
    assert node_available(state) is usable


SINFO = """gpu10|gpu:h100:8|idle|h100
gpu2|gpu:h100:8(S:0-1)|drained|h100
gpu1|gpu:h100:8|mixed|h100
gpu1|gpu:h100:8|mixed|h100
gpu3|gpu:a100:4|idle|a100
cpu1|(null)|idle|cpu
old1|gpu:4|idle|v100,ib
"""


def test_nodes_are_grouped_by_gpu_type_in_natural_order_with_the_unusable_ones_marked() -> None:
    reservations = (
        "ReservationName=maint1 StartTime=1 EndTime=2 Nodes=gpu10 State=ACTIVE Flags=MAINT\n"
        "ReservationName=sp-booking-3 StartTime=1 EndTime=2 Nodes=gpu3 State=ACTIVE Flags=\n"
        "ReservationName=later StartTime=1 EndTime=2 Nodes=gpu1 State=INACTIVE Flags=\n"
    )
    layout = node_layout(
        parse_sinfo(SINFO),
        {"H100": "h100", "A100": "a100", "V100": "v100"},
        reserved_nodes(reservations, own_prefix="sp-"),
    )

    assert layout.names == {"H100": ("gpu1", "gpu2", "gpu10"), "A100": ("gpu3",), "V100": ("old1",)}
    h100 = layout.types["H100"]
    assert (h100.nodes, h100.gpus_per_node, h100.unavailable) == (3, 8, {1, 2})
    assert layout.types["A100"].unavailable == frozenset()  # the platform's own booking
    assert layout.node_names("H100", [2, 0]) == ["gpu10", "gpu1"]
    assert layout.unreachable().types["H100"].usable_gpus == 0


SQUEUE = """12|sp-a|RUNNING|None|1796032062|1796035662|gpu[1-2]|1:02:03
13|sp-b|PENDING|ReqNodeNotAvail, UnavailableNodes:gpu2|1796040000|N/A||0:00
14|sp-c|COMPLETED|None|1796032062|1796032065|gpu3|0:03
15|sp-d|PENDING|AssocGrpGRESMinutes|N/A|N/A||0:00
"""


def test_squeue_lines_become_running_and_queued_jobs_with_their_reasons() -> None:
    rows = {row.name: row for row in parse_squeue(SQUEUE)}

    running = live_job("a", rows["sp-a"], hostnames(rows["sp-a"].nodes))
    queued = live_job("b", rows["sp-b"], [])

    assert running.state == BackendState.RUNNING
    assert running.started_at == datetime(2026, 11, 30, 9, 47, 42, tzinfo=UTC)
    assert (running.elapsed_seconds, running.nodes) == (3723, ("gpu1", "gpu2"))
    assert (queued.state, queued.reason, queued.started_at) == (
        BackendState.QUEUED,
        "cluster_queue",
        None,  # a pending job's %S is a forecast, not a start
    )
    assert rows["sp-c"].final
    assert wait_reason(rows["sp-d"].reason) == "budget"


@pytest.mark.parametrize(
    ("slurm_reason", "reason"),
    [
        ("Resources", "cluster_queue"),
        ("Priority", "cluster_queue"),
        ("Reservation", "booking_not_started"),
        ("AssocGrpGRESMinutes", "budget"),
        ("AssocGrpJobsLimit", "project_limit"),
        ("AssocGrpGRES", "project_limit"),
        ("QOSMaxGRESPerUser", "project_limit"),
        ("JobHeldAdmin", "held_by_staff"),
    ],
)
def test_slurms_pending_reasons_map_to_the_platforms(slurm_reason: str, reason: str) -> None:
    assert wait_reason(slurm_reason) == reason


SACCT = """21|sp-ok|COMPLETED|0:0|5|1796032062|1796032067|cpu=1,gres/gpu:h100=2|1800000|gpu1
22|sp-exit|FAILED|3:0|1|1796032062|1796032063|cpu=1,gres/gpu:h100=2|0|gpu1
23|sp-time|TIMEOUT|0:15|60|1796032062|1796032122|cpu=1|0|gpu1
24|sp-oom|OUT_OF_MEMORY|0:125|9|1796032062|1796032071|cpu=1||gpu2
25|sp-admin|CANCELLED by 0|0:15|4|1796032062|1796032066|cpu=1||gpu2
26|sp-pre|PREEMPTED|0:15|4|1796032062|1796032066|cpu=1||gpu2
27|sp-node|NODE_FAIL|0:0|4|1796032062|1796032066|cpu=1||gpu3
28|sp-gone|CANCELLED by 0|0:0|0|None|1796032066|||None assigned
29|sp-run|RUNNING|0:0|4|1796032062|Unknown|cpu=1||gpu1
"""


@pytest.mark.parametrize(
    ("name", "state", "reason", "exit_code"),
    [
        ("sp-ok", BackendState.COMPLETED, "", 0),
        ("sp-exit", BackendState.FAILED, "", 3),
        ("sp-time", BackendState.TIMEOUT, "", 143),
        ("sp-oom", BackendState.FAILED, "out_of_memory", 0),
        ("sp-admin", BackendState.CANCELLED, "cancelled_on_cluster", 143),
        ("sp-pre", BackendState.CANCELLED, "preempted", 143),
        ("sp-node", BackendState.NODE_FAIL, "node_failure", 0),
        ("sp-gone", BackendState.CANCELLED, "cancelled_on_cluster", 0),
        ("sp-run", BackendState.RUNNING, "", 0),
    ],
)
def test_sacct_states_map_to_the_platforms_state_reason_and_exit_code(
    name: str, state: BackendState, reason: str, exit_code: int
) -> None:
    rows = {row.name: row for row in parse_sacct(SACCT)}

    job = accounted_job("k", rows[name], [])

    assert (job.state, job.reason, job.exit_code) == (state, reason, exit_code)


def test_sacct_reports_elapsed_time_allocated_tres_and_consumed_energy() -> None:
    (done, *_rest) = parse_sacct(SACCT)

    job = accounted_job("k", done, ["gpu1"])

    assert job.elapsed_seconds == 5
    assert job.ended_at == datetime(2026, 11, 30, 9, 47, 47, tzinfo=UTC)
    assert job.allocated_tres["gres/gpu:h100"] == "2"
    assert job.consumed_energy_joules == 1_800_000
    assert accounted_job("k", parse_sacct(SACCT)[1], []).consumed_energy_joules is None
    assert accounted_job("k", parse_sacct(SACCT)[-1], []).ended_at is None
    never_ran = accounted_job("k", parse_sacct(SACCT)[-2], [])  # cancelled while pending
    assert (never_ran.started_at, never_ran.ended_at is not None) == (None, True)


@pytest.mark.parametrize(("value", "code"), [("0:0", 0), ("3:0", 3), ("0:9", 137), ("", None)])
def test_an_exit_code_with_a_signal_reads_as_a_shell_would(value: str, code: int | None) -> None:
    assert parse_exit_code(value) == code


ASSOC = """root||||||
stargate||root||||
proj_1||stargate|gres/gpu:a100=0,gres/gpu:h100=66000|||
proj_1|svc|||||
proj_2||stargate|gres/gpu:h100=600|gres/gpu=16|0|0
"""


def plan(*wanted: ClusterAccount) -> accounts.AccountPlan:
    return accounts.plan(
        wanted,
        account_name=lambda project: f"proj_{project}",
        gres_types={"H100": "h100", "A100": "a100"},
        known_tres=frozenset({"gres/gpu:h100", "gres/gpu:a100", "gres/gpu"}),
        margin=0.10,
        cluster="",
        parent="stargate",
        user="svc",
    )


def test_accounts_that_already_have_their_limits_need_no_command() -> None:
    wanted = plan(ClusterAccount("1", {"H100": 60000, "A100": 0}))

    assert accounts.commands(wanted, accounts.parse_associations(ASSOC)) == []
    assert accounts.report(wanted, accounts.parse_associations(ASSOC)).as_dict() == {
        "created": 0,
        "updated": 0,
        "unchanged": 1,
    }


def test_a_new_account_is_created_with_its_limits_and_a_changed_one_is_modified() -> None:
    wanted = plan(
        ClusterAccount("2", {"H100": 1000}, max_running_gpus=None, may_start_jobs=True),
        ClusterAccount("3", {"H100": 60}, may_start_jobs=False),
    )

    found = accounts.commands(wanted, accounts.parse_associations(ASSOC))

    modified, created, user = found
    assert modified == [
        "modify",
        "account",
        "where",
        "name=proj_2",
        "set",
        "GrpTRESMins=gres/gpu:a100=0,gres/gpu:h100=1100",
        "GrpTRES=gres/gpu=-1",
        "GrpJobs=-1",
        "GrpSubmitJobs=-1",
    ]
    assert created == [
        "add",
        "account",
        "proj_3",
        "parent=stargate",
        "Description=stargate-portal-project",
        "Organization=stargate",
        "GrpTRESMins=gres/gpu:a100=0,gres/gpu:h100=66",
        "GrpJobs=0",
        "GrpSubmitJobs=0",
    ]
    assert user == ["add", "user", "svc", "account=proj_2,proj_3"]


def fake_program(tmp_path: Path, body: str) -> SlurmCommands:
    tmp_path.mkdir(exist_ok=True)
    program = tmp_path / "squeue"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    return SlurmCommands(bin_dir=str(tmp_path), timeout_seconds=1)


@pytest.mark.parametrize(
    "body",
    [
        "echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2"
        "; exit 1",
        "echo 'sacct: error: Problem talking to the database: Connection refused' >&2; exit 1",
        "sleep 5",
        "kill -9 $$",
    ],
)
def test_a_controller_that_is_down_slow_or_killed_is_unavailable_not_a_refusal(
    tmp_path: Path, body: str
) -> None:
    with pytest.raises(BackendUnavailable):
        fake_program(tmp_path, body).run("squeue", [])


def test_an_answer_with_an_error_is_a_refusal_and_the_environment_is_built_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://secret")
    refusing = fake_program(
        tmp_path / "a",
        "echo 'sbatch: error: Batch job submission failed: Invalid account' >&2; exit 1",
    )
    printing = fake_program(tmp_path / "b", "env")

    with pytest.raises(SlurmRefused, match="Invalid account"):
        refusing.run("squeue", [])
    seen = printing.run("squeue", [])
    assert "DATABASE_URL" not in seen
    assert "SLURM_TIME_FORMAT=%s" in seen
    assert "TZ=UTC" in seen


def test_after_a_failure_calls_fail_at_once_for_a_doubling_pause_until_slurm_answers() -> None:
    backoff = Backoff(start_seconds=1, max_seconds=60)
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:
        backoff.failed(BackendUnavailable("down"))

        with pytest.raises(BackendUnavailable, match="next try"):
            backoff.check()
        clock.shift(1.1)
        backoff.check()  # the pause is over: the next call may try Slurm
        backoff.failed(BackendUnavailable("still down"))
        clock.shift(1.1)
        with pytest.raises(BackendUnavailable):
            backoff.check()  # the second pause is twice as long
        backoff.succeeded()
        backoff.check()
