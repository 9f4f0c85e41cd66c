"""The load benchmark's own arithmetic: CPU read from /proc, the rows and the bound it prints."""

import math
import os
from pathlib import Path

import pytest

from booking.admission.load_benchmark import (
    FLOOR,
    TARGETS_MS,
    CpuPerRequest,
    Figures,
    _table,
    cpu_used,
    process_times,
)

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(proc: Path, pid: int, name: str, parent: int, utime: int, stime: int) -> None:
    # Fields 3 … 15 of /proc/<pid>/stat: state, ppid, then eight others, then utime, stime.
    fields = ["S", str(parent), *["0"] * 9, str(utime), str(stime), "0", "0"]
    (proc / str(pid)).mkdir()
    (proc / str(pid) / "stat").write_text(f"{pid} ({name}) {' '.join(fields)}\n")


def test_process_times_reads_the_selected_processes_cpu_from_proc(tmp_path: Path) -> None:
    _stat(tmp_path, 10, "gunicorn: master [stargate-web]", 1, 5 * TICKS, 1 * TICKS)
    _stat(tmp_path, 11, "gunicorn: worker (x)", 10, 30 * TICKS, 2 * TICKS)
    _stat(tmp_path, 12, "postgres", 1, 7 * TICKS, 0)
    (tmp_path / "self").mkdir()  # not a process id: skipped

    server = process_times(lambda pid, _name, parent: 10 in (pid, parent), tmp_path)
    database = process_times(lambda _pid, name, _parent: name.startswith("postgres"), tmp_path)

    assert server == {10: 6.0, 11: 32.0}
    assert database == {12: 7.0}


def test_process_times_is_empty_without_proc(tmp_path: Path) -> None:
    assert process_times(lambda *_: True, tmp_path / "missing") == {}


def test_cpu_used_counts_a_process_started_between_readings_whole() -> None:
    before = {1: 10.0, 2: 4.0, 3: 1.0}
    after = {1: 12.5, 2: 4.0, 4: 0.75}  # 3 ended; 4 started

    assert cpu_used(before, after) == pytest.approx(3.25)


def _site(pending: int, per_second: float) -> dict[str, object]:
    names = [*TARGETS_MS, *FLOOR]
    figures = {name: Figures(100, per_second, 50.0, 120.0, 0, 110) for name in names}
    cpu = {name: CpuPerRequest(4.25, 1.5, 0.25) for name in names}
    return {
        "facts": {"pending": pending},
        "figures": figures,
        "cpu": cpu,
        "load": ((1.0, 0, 0), (2.0, 0, 0)),
        "swept": {},
    }


def test_the_table_prints_cpu_per_request_the_floor_and_the_bound() -> None:
    lines = _table(
        {"demo site": _site(24, 300.0), "benchmark site": _site(100_000, 250.0)},
        clients=32,
        workers=2,
    )
    text = "\n".join(lines)

    detail = next(line for line in lines if line.startswith("job detail (pending)"))
    assert detail.split()[-7:] == ["4.2", "1.5", "0.2", "≤100", "ms", "(NOT", "met)"]
    floor = lines.index("the stack's floor, served and loaded the same way (no target):")
    assert [line.split("  ")[0] for line in lines[floor + 1 : floor + 3]] == list(FLOOR)
    cores = os.cpu_count() or 1
    assert (
        f"at least 320 requests/s: at most {cores * 1000 / 320:.1f} ms of CPU per request"
    ) in text
    assert CpuPerRequest(4.25, 1.5, 0.25).total_ms == 6.0
    assert math.isnan(CpuPerRequest(math.nan, 1.0, 1.0).total_ms)
