"""make run as a user runs it, in its own process, as the README says: plain ``make run``, the E → T → L
replay of the first recorded days through the YouTube Data API stand-in (issue 23's "done when": a fresh
clone's ``make run`` fetches 3 recorded days × 11 regions and the reports equal a computation from the same
rsrishav rows). A clean terminal, and a lake that make query and make cat can read afterwards.

The expected reports are computed here from the rsrishav CSVs and category files, parsed with the csv
module — not by the Glue jobs, not by the SQL — and fed to the independent report model
(``tests/report_model.py``). The rows are the ones the stand-in serves for a recorded day: the region's rows
of that ``trending_date`` in file order, the first 200 (the API's chart limit), the cut last record of each
file left out; what the API does not return is NULL (issue 23 item 2). The ``--data`` path (a folder's
drops) is covered by ``test_pipeline.py`` (the quickstart drops) and ``test_airflow_ui.py`` (make airflow).

A module of its own so that ``make test``'s workers run it beside ``test_pipeline``'s runs.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from local.replay import DEFAULT_DAYS
from local.runtime import REPO_ROOT
from tests.report_model import EXPECTED, with_category_titles
from tests.servers import make_run_argv, user_env
from youtube_etl.reports import report_key
from youtube_etl.settings import get_settings
from youtube_lake.extract import category_key

pytestmark = pytest.mark.slow

NOISE = re.compile(r"\[(warning|error|critical)\s*\]|^(WARNING|ERROR|CRITICAL) |\w+Warning: ", re.I | re.M)
#: The regions of the rsrishav feed, which the stand-in serves and the settings extract by default.
REGIONS = ("br", "ca", "de", "fr", "gb", "in", "jp", "kr", "mx", "ru", "us")
#: The API's ``mostPopular`` chart holds at most 200 videos; the extract asks for 50 a page.
CHART_LIMIT = 200
PAGE_SIZE = 50


# ---- the rows the stand-in serves, from the recorded files -------------------------------------------------
def recorded_rows(path: Path) -> list[dict[str, str]]:
    """The complete records of one rsrishav CSV (csv module). Every file of the feed was cut inside its
    last record (SOURCES.md): that record is no video and is left out."""
    text = path.read_text(encoding="utf-8")
    header, *records = list(csv.reader(text.splitlines(keepends=True)))
    last = records.pop()
    # Every field is quoted, so an odd number of quote characters means the file ends inside a field.
    assert len(last) < len(header) or text.count('"') % 2 == 1, f"{path}: the last record is not cut"
    assert all(len(r) == len(header) for r in records), path
    return [dict(zip(header, record, strict=True)) for record in records]


def recorded_charts(recording: Path) -> dict[tuple[str, date], list[dict[str, str]]]:
    """(region, day) -> that day's chart: the region's rows of the trending date, in file order, ≤ 200."""
    charts: dict[tuple[str, date], list[dict[str, str]]] = {}
    for path in sorted((recording / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.removeprefix("region=")
        for row in recorded_rows(path):
            charts.setdefault((region, date.fromisoformat(row["trending_date"][:10])), []).append(row)
    return {key: rows[:CHART_LIMIT] for key, rows in charts.items()}


def _count(row: dict[str, str], column: str, absent: bool) -> int | None:
    """A count the API returns, or None where it does not (the feed wrote 0 for it)."""
    return None if absent else int(row[column])


def api_row(region: str, day: date, rank: int, row: dict[str, str]) -> dict[str, Any]:
    """One recorded video as the pipeline must type it from an API page (issue 23 item 2)."""
    comments_off = row["comments_disabled"] == "True"
    ratings_off = row["ratings_disabled"] == "True"
    likes = _count(row, "likes", ratings_off)
    comments = _count(row, "comment_count", comments_off)
    views = int(row["view_count"])
    published = datetime.fromisoformat(row["publishedAt"].removesuffix("Z"))
    known = [n for n in (likes, comments) if n is not None]  # dislikes: private since 2021-12-13
    return {
        "region": region,
        "video_id": row["video_id"],
        "trending_date": day,
        "chart_rank": rank,
        "title": row["title"],
        "channel_id": row["channelId"],
        "channel_title": row["channelTitle"],
        "category_id": int(row["categoryId"]),
        "publish_time": pd.Timestamp(published),
        "views": views,
        "likes": likes,
        "dislikes": None,
        "comment_count": comments,
        "comments_disabled": comments_off,
        "ratings_disabled": ratings_off,
        "video_error_or_removed": None,  # a chart lists no removed video; the API has no such field
        # The page the item came in (what source_file tells apart: one fetch's pages of one day).
        "source_file": f"{region}/{day}/page{(rank - 1) // PAGE_SIZE + 1}",
        "engagement_rate": sum(known) / views if known and views > 0 else math.nan,
        "like_ratio": math.nan,  # needs dislikes
        "days_to_trend": (day - published.date()).days,
    }


def category_titles(recording: Path) -> dict[str, dict[int, str]]:
    """region -> category id -> title, from the category files the stand-in serves verbatim."""
    titles = {}
    for path in sorted((recording / "raw_statistics_reference_data").glob("*_category_id.json")):
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        titles[path.name[:2].lower()] = {int(i["id"]): i["snippet"]["title"] for i in items}
    return titles


def expected_trending(recording: Path, days: list[date]) -> pd.DataFrame:
    """The analytics rows of the replayed days: one per (region, video, day), the last in chart order."""
    rows: dict[tuple[str, str, date], dict[str, Any]] = {}
    for (region, day), chart in sorted(recorded_charts(recording).items()):
        if day in days:
            for rank, row in enumerate(chart, 1):
                rows[(region, row["video_id"], day)] = api_row(region, day, rank, row)
    frame = pd.DataFrame(list(rows.values()))
    for column in ("likes", "dislikes", "comment_count"):
        frame[column] = frame[column].astype("Int64")
    frame["video_error_or_removed"] = frame["video_error_or_removed"].astype("boolean")
    return with_category_titles(frame, category_titles(recording))


# ---- comparing an exported report with its expected frame ------------------------------------------------
def _text(value: Any) -> str:
    """An expected value as the export writes it (NULL: empty)."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # a numpy scalar
        return _text(value.item())
    return str(value)


def _same(actual: str, expected: Any) -> bool:
    if isinstance(expected, float) and not math.isnan(expected):
        return actual != "" and math.isclose(float(actual), expected, rel_tol=1e-9)
    return actual == _text(expected)


def report_mismatches(path: Path, expected: pd.DataFrame, key: tuple[str, ...]) -> list[str]:
    """Every difference between an exported report and its expected rows, by key and column."""
    with path.open(newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    if exported and set(exported[0]) != set(expected.columns):
        return [f"columns {sorted(exported[0])} != {sorted(expected.columns)}"]
    actual = {tuple(row[k] for k in key): row for row in exported}
    wanted = {tuple(_text(row[k]) for k in key): row for row in expected.to_dict("records")}
    problems = [f"{k}: exported, not expected" for k in sorted(set(actual) - set(wanted))]
    problems += [f"{k}: expected, not exported" for k in sorted(set(wanted) - set(actual))]
    for k in sorted(set(actual) & set(wanted)):
        problems += [
            f"{k} {column}: exported {actual[k][column]!r}, expected {_text(value)!r}"
            for column, value in wanted[k].items()
            if not _same(actual[k][column], value)
        ]
    return problems


# ---- the run ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def make_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.CompletedProcess[str], Path]]:
    """Plain ``make run`` (the README's default), out/, Airflow home and lake in a folder of its own."""
    work = tmp_path_factory.mktemp("make_run")
    done = subprocess.run(
        make_run_argv(None, work, DEFAULT_DAYS),
        cwd=REPO_ROOT,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    yield done, work


@pytest.fixture(scope="module")
def recording(data_dir: Path) -> Path:
    return data_dir / "rsrishav_trending"


@pytest.fixture(scope="module")
def days(recording: Path) -> list[date]:
    """The recorded days make run replays: the first three any region has a chart of."""
    return sorted({day for _, day in recorded_charts(recording)})[:DEFAULT_DAYS]


@pytest.fixture(scope="module")
def trending(recording: Path, days: list[date]) -> pd.DataFrame:
    return expected_trending(recording, days)


def test_make_run_prints_no_warning_or_error_line(
    make_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """make run as a user runs it (its own process, no pytest warning capture): nothing the project could
    prevent is printed at warning level or above (third-party deprecations it cannot fix are filtered by
    name in youtube_etl._warnings)."""
    done, _ = make_run
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "done in" in done.stdout
    noise = [line for line in output.splitlines() if NOISE.search(line)]
    assert noise == [], "\n".join(noise[:20])
    # The runtime stopped all it started: the supervisor had nothing left to end (it names what it ends).
    assert "left running" not in done.stderr, done.stderr[-3000:]


def test_make_run_fetched_three_days_of_every_region(
    make_run: tuple[subprocess.CompletedProcess[str], Path], recording: Path, days: list[date]
) -> None:
    """Each replayed day: the 11 regions' charts fetched whole from the stand-in (the items of the recorded
    charts), within the quota budget, and ingested: every fetched row read, the repeated keys counted."""
    done, work = make_run
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    charts = recorded_charts(recording)
    runs = [json.loads(line) for line in (work / "out" / "runs.jsonl").read_text().splitlines()]
    assert (
        [r["date"] for r in runs]
        == [d.isoformat() for d in days]
        == ["2020-08-12", "2020-08-13", "2020-08-14"]
    )
    for run, day in zip(runs, days, strict=True):
        chart = {region: charts[(region, day)] for region in REGIONS}
        items = sum(len(rows) for rows in chart.values())
        distinct = sum(len({r["video_id"] for r in rows}) for rows in chart.values())
        assert (run["extract_state"], run["regions"], run["items_fetched"]) == ("success", 11, items), run
        # One unit a list call: each region's pages (50 items a page) and its categories; ≤ 60 a day.
        units = sum(-(-len(rows) // PAGE_SIZE) + 1 for rows in chart.values())
        assert run["units"] == run["units_counted_by_stand_in"] == units <= 60, run
        assert (run["state"], run["rows_read"], run["rows_written"]) == ("success", items, distinct), run
        assert (run["duplicates"], run["rejected"], run["quarantined_files"]) == (items - distinct, 0, 0), run
        assert f"{day}: 11 regions, {items} items fetched, {run['units']} units spent;" in done.stdout


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in EXPECTED])
def test_report_equals_the_computation_from_the_recorded_rows(
    make_run: tuple[subprocess.CompletedProcess[str], Path], trending: pd.DataFrame, report: str
) -> None:
    """Each exported report, row for row and column for column (doubles to 1e-9), is what the independent
    model computes from the rows the stand-in served."""
    done, work = make_run
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    expected = EXPECTED[report](trending, get_settings({}))
    assert set(expected["region"]) == set(REGIONS), "the comparison covers every region"
    problems = report_mismatches(work / "out" / "reports" / f"{report}.csv", expected, report_key(report))
    assert problems == [], f"{len(problems)} differences, the first:\n" + "\n".join(problems[:10])


def test_make_query_and_cat_read_the_lake_it_left(
    make_run: tuple[subprocess.CompletedProcess[str], Path], recording: Path, days: list[date]
) -> None:
    """The lake it left answers make query and make cat (each resumes it in a process of its own)."""
    done, work = make_run
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]

    def lake_command(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "local", *args, "--lake", str(work / "lake")],
            cwd=REPO_ROOT,
            env=user_env(),
            capture_output=True,
            timeout=300,
            check=False,
        )

    query = lake_command(
        "query", "select region, count(*) as n from region_summary group by region order by region"
    )
    assert query.returncode == 0, query.stderr.decode()[-3000:]
    table = query.stdout.decode().splitlines()
    with (work / "out" / "reports" / "region_summary.csv").open(newline="") as exported:
        regions = {row["region"] for row in csv.DictReader(exported)}
    assert regions == set(REGIONS)
    assert [line.split(" | ")[0].strip() for line in table[2:-1]] == sorted(regions)
    assert table[-1] == f"({len(regions)} rows)"
    # The US categories the extract landed on the last day: the stand-in's answer, the recorded file verbatim.
    settings = get_settings()
    recorded = recording / "raw_statistics_reference_data" / "US_category_id.json"
    uri = f"s3://{settings.raw_bucket}/{category_key(settings.prefixes.raw_reference, days[-1], 'us')}"
    cat = lake_command("cat", uri)
    assert cat.returncode == 0 and cat.stdout == recorded.read_bytes(), cat.stderr.decode()[-2000:]
    missing = lake_command("cat", uri + ".missing")
    assert missing.returncode == 1 and b"not in the lake (NoSuchKey)" in missing.stderr
