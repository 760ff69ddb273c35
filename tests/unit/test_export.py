"""make run's exports: typed CSVs sorted by each report's key, and an out/ that never shows a stale run."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from dashboard.athena import ATHENA_TYPES, convert_column
from local.export import FAILED_MARKER, PipelineError, fresh_exports, typed_csv
from tests.unit.test_dashboard_reports_data import real_reports
from youtube_etl.reports import discover_reports, report_key


def athena_frame(columns: dict[str, tuple[str, list[str | None]]]) -> pd.DataFrame:
    """A frame typed like the Athena reader types a result: column -> (Athena type, values as text)."""
    frame = pd.DataFrame({name: convert_column(values, kind) for name, (kind, values) in columns.items()})
    frame.attrs[ATHENA_TYPES] = {name: kind for name, (kind, _) in columns.items()}
    return frame


LEADERBOARD = athena_frame(
    {
        "channel_rank": ("integer", ["10", "2", "1", "1"]),
        "channel_title": ("varchar", ['Say "hi", now', "", None, "Zed"]),
        "peak_views": ("bigint", ["12345678901234", None, "7", "9"]),
        "share": ("double", ["1.928701900485726E-4", "0.5", None, "1e-07"]),
        "last_trending_date": ("date", ["2017-11-14", "2017-11-15", None, "2017-11-16"]),
        "publish_time": ("timestamp", ["2017-11-13 17:13:01.000", None, None, "2017-11-13 07:30:00.000"]),
        "is_partial_day": ("boolean", ["true", "false", None, "false"]),
        "region": ("varchar", ["us", "us", "us", "ca"]),
    }
)


def test_key_columns_come_first_and_rows_sort_by_their_typed_values() -> None:
    rows, text = typed_csv(LEADERBOARD, ("region", "channel_rank"))
    header = text.splitlines()[0]
    assert header.startswith('"region","channel_rank","channel_title"')
    assert [(r["region"], r["channel_rank"]) for r in rows] == [
        ("ca", "1"),
        ("us", "1"),
        ("us", "2"),
        ("us", "10"),
    ]


def test_values_are_typed_plain_and_unambiguous() -> None:
    _, text = typed_csv(LEADERBOARD, ("region", "channel_rank"))
    lines = text.splitlines()
    assert lines[1] == '"ca",1,"Zed",9,0.0000001,2017-11-16,2017-11-13 07:30:00,false'
    assert lines[2] == '"us",1,,7,,,,'  # NULLs are empty fields
    assert lines[3] == '"us",2,"",,0.5,2017-11-15,,false'  # an empty title is "", not NULL
    title = '"us",10,"Say ""hi"", now",'
    assert lines[4] == title + "12345678901234,0.0001928701900485726,2017-11-14,2017-11-13 17:13:01,true"
    assert "E-" not in text and "e-" not in text


def test_the_csv_reads_back_to_the_same_values() -> None:
    _, text = typed_csv(LEADERBOARD, ("region", "channel_rank"))
    records = list(csv.DictReader(io.StringIO(text)))
    by_rank = {(r["region"], int(r["channel_rank"])): r for r in records}
    assert float(by_rank[("us", 10)]["share"]) == 1.928701900485726e-4
    assert int(by_rank[("us", 10)]["peak_views"]) == 12345678901234
    assert by_rank[("us", 10)]["channel_title"] == 'Say "hi", now'


def test_a_key_the_report_lacks_is_named() -> None:
    with pytest.raises(ValueError, match="view_rank"):
        typed_csv(LEADERBOARD, ("region", "view_rank"))


# Every report, named without computing the frames: each xdist worker collects this module.
@pytest.mark.parametrize("report", sorted(discover_reports()))
def test_real_reports_export_sorted_by_their_key(report: str) -> None:
    frame = real_reports("datasnaek")[report].copy()
    key = report_key(report)
    rows, text = typed_csv(frame, key)
    records = list(csv.reader(io.StringIO(text)))
    assert records[0][: len(key)] == list(key)
    assert len(records) == len(frame) + 1
    sort_key = [tuple(float(r[c]) if frame[c].dtype.kind in "iuf" else r[c] for c in key) for r in rows]
    assert sort_key == sorted(sort_key)


def test_a_run_starts_without_the_previous_exports(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "old.csv").write_text("stale")
    (tmp_path / "dashboard.html").write_text("stale")
    (tmp_path / FAILED_MARKER).write_text("an older failure")
    (tmp_path / "runs.jsonl").write_text("{}\n")
    with fresh_exports(tmp_path):
        assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.jsonl"]
        (tmp_path / "reports").mkdir()
        (tmp_path / "reports" / "new.csv").write_text("fresh")
    assert (tmp_path / "reports" / "new.csv").read_text() == "fresh"
    assert not (tmp_path / FAILED_MARKER).exists()


def test_a_failed_run_leaves_only_a_marker_naming_the_failure(tmp_path: Path) -> None:
    (tmp_path / "dashboard.html").write_text("stale")
    with pytest.raises(PipelineError), fresh_exports(tmp_path):
        (tmp_path / "reports").mkdir()
        (tmp_path / "reports" / "half.csv").write_text("partial")
        raise PipelineError("youtube_reporting run x ended failed: check_reports.check_row_count_drop")
    assert sorted(p.name for p in tmp_path.iterdir()) == [FAILED_MARKER]
    marker = (tmp_path / FAILED_MARKER).read_text()
    assert "make run failed at" in marker and "check_row_count_drop" in marker
