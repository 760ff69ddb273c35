"""make run's daily flow, the parts without a runtime: drops in date order, their intervals, run outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from local.export import PipelineError
from local.pipeline import DagRunResult, Drop, find_drops, progress_line, totals


def test_dated_drops_come_in_date_order(tmp_path: Path) -> None:
    for name in ("2017-11-16", "2017-11-14", "2017-11-15"):
        (tmp_path / "drops" / name).mkdir(parents=True)
    drops = find_drops(tmp_path)
    assert [d.day for d in drops] == [date(2017, 11, 14), date(2017, 11, 15), date(2017, 11, 16)]
    # dag.test(logical_date=D+1 00:00) covers [D, D+1): the drop's own day.
    assert drops[0].logical_date == datetime(2017, 11, 15, tzinfo=UTC)


def test_a_folder_without_drops_is_one_undated_drop_for_today(tmp_path: Path) -> None:
    (drop,) = find_drops(tmp_path)
    assert drop == Drop(tmp_path, None)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert drop.logical_date in (today + timedelta(days=1), today + timedelta(days=2))  # midnight race


@pytest.mark.parametrize(
    ("names", "message"),
    [
        pytest.param(["2017-11-14", "latest"], "named YYYY-MM-DD", id="not-a-date"),
        pytest.param([], "holds no YYYY-MM-DD drop folder", id="empty"),
    ],
)
def test_bad_drop_folders_are_named(tmp_path: Path, names: list[str], message: str) -> None:
    (tmp_path / "drops").mkdir()
    for name in names:
        (tmp_path / "drops" / name).mkdir()
    with pytest.raises(PipelineError, match=message):
        find_drops(tmp_path)


def run(tasks: dict[str, str], state: str = "failed") -> DagRunResult:
    return DagRunResult("youtube_ingest", "manual__x", state, tasks)


def test_only_a_verdict_failure_lets_the_next_days_run() -> None:
    verdict = run({"run_clean_statistics": "success", "record_verdicts": "failed"})
    assert verdict.verdict_failure
    verdict.check(allow_verdicts=True)
    with pytest.raises(PipelineError, match="record_verdicts=failed"):
        verdict.check()
    error = run({"run_clean_statistics": "failed", "record_verdicts": "upstream_failed"})
    assert not error.verdict_failure
    with pytest.raises(PipelineError, match="run_clean_statistics=failed"):
        error.check(allow_verdicts=True)
    run({"run_clean_statistics": "skipped", "record_verdicts": "success"}, "success").check()


def summary(**counts: int) -> dict[str, object]:
    base = {"date": "2017-11-14", "files": 14, "state": "success", "seconds": 3.25}
    keys = ("rows_read", "rows_written", "duplicates", "rejected", "quarantined_files")
    return base | {k: counts.get(k, 0) for k in keys}


def test_totals_add_up_every_run_and_the_progress_line_names_the_day() -> None:
    runs = [summary(rows_read=800, rows_written=790, duplicates=10), summary(rows_read=5, rejected=5)]
    assert totals(runs) == {
        "read": 805,
        "written": 790,
        "duplicates": 10,
        "rejected": 5,
        "files": 28,
        "quarantined_files": 0,
    }
    line = progress_line(runs[0], 12.5)
    assert line.startswith("  [  12.5 s] 2017-11-14: 14 files, read 800, written 790, duplicates 10")
    assert line.endswith("(3.2 s)") or line.endswith("(3.3 s)")
