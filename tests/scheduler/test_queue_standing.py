"""The queue record a cycle publishes: ranks in heap order, work ahead, marks, release curve."""

from booking.scheduler import admission_cycle
from booking.scheduler.standing import TypeOutlook, WorkAhead, queue_record
from tests.scheduler.scenario import HOUR, NOW, job, project, running, site


def _by_project(record: object) -> dict[int, object]:
    return {s.project_id: s for s in record.standings}  # type: ignore[attr-defined]


def test_projects_are_ranked_as_the_heap_orders_them_and_count_the_work_ahead() -> None:
    snapshot = site(
        nodes=1,
        projects=[project(1, tier=4), project(2, tier=1), project(3, tier=1, usage_gpu_hours=900)],
        pending=[
            job("a1", 1, gpus=8),
            job("b1", 2, gpus=8),
            job("b2", 2, gpus=8, hours=2),
            job("c1", 3, gpus=8),
        ],
        running_jobs=[running("r", 9, on={0: 8}, ends_in_hours=1)],
    )

    standings = _by_project(queue_record(snapshot, admission_cycle(snapshot)))

    # Tier 1 first, lower fair share first within it; the international project last.
    assert [standings[p].rank for p in (2, 3, 1)] == [1, 2, 3]
    assert standings[2].ahead == WorkAhead(0, 0, 0)
    assert standings[3].ahead == WorkAhead(2, 16, 8 * 60 + 8 * 120)
    assert standings[1].ahead == WorkAhead(3, 24, 8 * 60 + 8 * 120 + 8 * 60)


def test_jobs_admitted_by_the_cycle_have_left_the_record_and_count_as_active() -> None:
    snapshot = site(
        nodes=1, projects=[project(1)], pending=[job("a", 1, gpus=4), job("b", 1, gpus=8)]
    )

    record = queue_record(snapshot, admission_cycle(snapshot))

    (standing,) = record.standings
    assert (standing.pending_jobs, standing.pending_gpus) == (1, 8)
    assert (standing.active_jobs, standing.active_gpus) == (1, 4)
    assert record.outlooks["H100"].free_gpus == 4


def test_long_queues_get_a_mark_every_n_jobs_with_the_work_before_it() -> None:
    pending = [job(f"j{n:03}", 1, gpus=1 + n % 2, submitted_minutes_ago=500 - n) for n in range(7)]
    snapshot = site(nodes=0, projects=[project(1)], pending=pending)

    record = queue_record(snapshot, admission_cycle(snapshot), mark_every=3)

    marks = record.standings[0].marks
    assert [(m.job_id, m.position, m.gpus_before) for m in marks] == [
        ("j000", 0, 0),
        ("j003", 3, 1 + 2 + 1),
        ("j006", 6, 1 + 2 + 1 + 2 + 1 + 2),
    ]


def test_an_unchanged_queue_reuses_its_figures_and_a_changed_one_is_recomputed() -> None:
    first = site(nodes=0, projects=[project(1), project(2)], pending=[job("a", 1), job("b", 2)])
    record = queue_record(first, admission_cycle(first))
    second = site(
        nodes=0,
        projects=[project(1), project(2)],
        pending=[job("a", 1), job("b", 2), job("b2", 2, submitted_minutes_ago=1)],
    )

    again = queue_record(second, admission_cycle(second), figures=record.figures)

    assert again.figures[("H100", 1)] is record.figures[("H100", 1)]
    assert again.figures[("H100", 2)].work == WorkAhead(2, 2, 120)


def test_the_estimated_start_follows_the_release_curve_then_waves_of_mean_walltime() -> None:
    outlook = TypeOutlook("H100", 16, 16, 12, ((NOW + HOUR, 4), (NOW + 2 * HOUR, 12)))

    def start(gpus_ahead: int, gpus: int) -> float | None:
        ahead = WorkAhead(1, gpus_ahead, gpus_ahead * 60)
        return outlook.estimated_start(ahead=ahead, gpus=gpus, walltime_minutes=60, now=NOW)

    assert start(0, 4) == NOW  # four GPUs are free
    assert start(4, 4) == NOW + HOUR  # four more free at the first release
    assert start(8, 8) == NOW + 2 * HOUR
    # 16 GPUs short of what the releases give: one more site-full, one mean walltime later.
    assert start(24, 8) == NOW + 2 * HOUR + HOUR
    assert (
        TypeOutlook("H100", 8, 0, 0, ()).estimated_start(
            ahead=WorkAhead(0, 0, 0), gpus=1, walltime_minutes=60, now=NOW
        )
        is None
    )
