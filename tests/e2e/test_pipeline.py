"""make run's daily flow through both DAGs on the local runtime: the quickstart's dated drops, run twice.

The drops are the real sample files split by trending date (``local/drops.py``); expected values are
computed here from the original raw CSV/JSON files with the csv module — independently of the Glue job, the
Lambda and the SQL — so the final reports must equal one full run's. The second run lands the same drops
again: nothing has changed, so every ingest run takes nothing and the reports are identical.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from local.drops import make_drops
from local.pipeline import PipelineResult, run_pipeline
from local.runtime import LocalRuntime, patched_environ
from tests.conftest import LINEAGE_DIR
from youtube_etl.lineage import DatasetName, s3_dataset, table_dataset
from youtube_etl.reports import discover_reports, report_key, report_table

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Row:
    region: str
    video_id: str
    trending_date: date
    category_id: int
    views: int


def kaggle_date(text: str) -> date:
    """Kaggle's YY.DD.MM trending date."""
    year, day, month = (int(part) for part in text.split("."))
    return date(2000 + year, month, day)


def raw_rows(data_dir: Path) -> list[Row]:
    """Every record of the datasnaek CSVs, parsed with the csv module (lenient on the tags quirk)."""
    rows = []
    for path in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.split("=", 1)[1]
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for record in reader:
                fields = dict(zip(header, record, strict=True))
                rows.append(
                    Row(
                        region,
                        fields["video_id"],
                        kaggle_date(fields["trending_date"]),
                        int(fields["category_id"]),
                        int(fields["views"]),
                    )
                )
    return rows


def category_titles(data_dir: Path) -> dict[tuple[str, int], str]:
    titles = {}
    for path in (data_dir / "raw_statistics_reference_data").glob("*_category_id.json"):
        region = path.name.split("_", 1)[0].lower()
        for item in json.loads(path.read_text(encoding="utf-8"))["items"]:
            titles[(region, int(item["id"]))] = item["snippet"]["title"]
    return titles


@pytest.fixture(scope="module")
def runs(
    local_aws: LocalRuntime, airflow_db: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PipelineResult, PipelineResult, Path, Path]]:
    local_aws.reset()
    out = tmp_path_factory.mktemp("pipeline")
    # Retention 1 proves the cleanup: after the second run only its report tables may remain.
    env = {"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "0.2", "AIRFLOW__YOUTUBE_ETL__REPORT_RETENTION": "1"}
    quickstart = out / "quickstart"
    make_drops(data_dir, quickstart)
    with patched_environ(env):
        first = run_pipeline(local_aws, quickstart, out / "first")
        second = run_pipeline(local_aws, quickstart, out / "second")
    yield first, second, out / "first", out / "second"
    local_aws.reset()


def test_statistics_counts_match_the_raw_files(runs, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    first, second, *_ = runs
    rows = raw_rows(data_dir)
    distinct = {(r.region, r.video_id, r.trending_date) for r in rows}
    clean = first.metrics["clean_statistics"]
    assert clean["read"] == len(rows)
    assert clean["written"] == len(distinct)
    assert clean["read"] == clean["written"] + clean["duplicates"] + clean["rejected"]
    for result in (first, second):
        assert result.metrics["build_analytics"]["rows"] == len(distinct)
        assert result.quarantined == []
    # One ingest run per drop, each for its day, in date order; each took the drop's files.
    days = ["2017-11-14", "2017-11-15", "2017-11-16", "2017-11-17"]
    assert [r["date"] for r in first.runs] == days
    assert [r["statistics_files"] for r in first.runs] == [4, 4, 4, 4]
    assert first.runs[0]["reference_files"] + sum(r["reference_files"] for r in first.runs[1:]) <= 10
    assert all(r["state"] == "success" and r["quarantined_files"] == 0 for r in first.runs)
    # The same drops again (same keys, same ETags) already have their verdicts: nothing is read again.
    assert [r["date"] for r in second.runs] == days
    assert all(r["files"] == 0 and r["rows_read"] == 0 and r["state"] == "success" for r in second.runs)


def test_runs_jsonl_has_one_line_per_ingest_run(runs) -> None:  # type: ignore[no-untyped-def]
    first, _, first_out, _ = runs
    lines = [json.loads(line) for line in (first_out / "runs.jsonl").read_text().splitlines()]
    assert lines == first.runs
    for line in lines:
        assert {
            "date",
            "files",
            "rows_read",
            "rows_written",
            "duplicates",
            "rejected",
            "quarantined_files",
        } <= set(line)
        assert line["rows_read"] == line["rows_written"] + line["duplicates"] + line["rejected"]


def test_region_summary_reconciles_with_the_raw_files(runs, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    first, *_ = runs
    rows = raw_rows(data_dir)
    expected = {}
    for region in {r.region for r in rows}:
        mine = [r for r in rows if r.region == region]
        expected[region] = {
            "trending_rows": str(len(mine)),
            "videos": str(len({r.video_id for r in mine})),
            "trending_days": str(len({r.trending_date for r in mine})),
            "first_trending_date": min(r.trending_date for r in mine).isoformat(),
            "total_views": str(sum(r.views for r in mine)),
        }
    actual = {
        row["region"]: {k: row[k] for k in expected[row["region"]]} for row in first.reports["region_summary"]
    }
    assert actual == expected


def test_category_performance_reconciles_and_keeps_unknown_ids(runs, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    first, *_ = runs
    titles = category_titles(data_dir)
    totals: dict[tuple[str, int], int] = defaultdict(int)
    for r in raw_rows(data_dir):
        totals[(r.region, r.category_id)] += r.views
    report = {(row["region"], int(row["category_id"])): row for row in first.reports["category_performance"]}
    assert set(report) == set(totals), "every (region, category) of the statistics has a row — none dropped"
    for key, views in totals.items():
        assert int(report[key]["total_views"]) == views, key
        if key in titles:
            assert report[key]["category_title"] == titles[key]
    # Category 29 is missing from the CA and FR files (SOURCES.md): its rows are kept with a title.
    assert ("ca", 29) not in titles and report[("ca", 29)]["category_title"] == titles[("us", 29)]
    shares: dict[str, float] = defaultdict(float)
    for (region, _), row in report.items():
        shares[region] += float(row["views_share"])
    assert all(abs(total - 1.0) < 1e-9 for total in shares.values())


def test_daily_summary_counts_videos_per_day(runs, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    first, *_ = runs
    per_day: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in raw_rows(data_dir):
        per_day[(r.region, r.trending_date.isoformat())].add(r.video_id)
    actual = {
        (row["region"], row["trending_date"]): int(row["videos"])
        for row in first.reports["daily_trending_summary"]
    }
    assert actual == {key: len(videos) for key, videos in per_day.items()}


def test_second_run_gives_identical_reports(runs) -> None:  # type: ignore[no-untyped-def]
    _, _, first_out, second_out = runs
    names = sorted(p.name for p in (first_out / "reports").glob("*.csv"))
    assert names == sorted(f"{r}.csv" for r in discover_reports())
    for name in names:
        assert (first_out / "reports" / name).read_bytes() == (second_out / "reports" / name).read_bytes(), (
            name
        )


def test_reruns_do_not_duplicate_processed_data(runs, local_aws: LocalRuntime) -> None:  # type: ignore[no-untyped-def]
    s = local_aws.settings
    glue = local_aws.client("glue")
    for table in (s.statistics_table, s.category_reference_table):
        partitions = glue.get_partitions(DatabaseName=s.processed_database, TableName=table)["Partitions"]
        values = [tuple(p["Values"]) for p in partitions]
        assert len(values) == len(set(values)), f"{table}: duplicate partitions {values}"
    statistics = glue.get_table(DatabaseName=s.processed_database, Name=s.statistics_table)["Table"]
    assert [(k["Name"], k["Type"]) for k in statistics["PartitionKeys"]] == [
        ("region", "string"),
        ("dt", "string"),
    ]


def test_cleanup_keeps_only_the_published_run(runs, local_aws: LocalRuntime) -> None:  # type: ignore[no-untyped-def]
    first, second, *_ = runs
    s = local_aws.settings
    names = {
        t["Name"] for t in local_aws.client("glue").get_tables(DatabaseName=s.analytics_database)["TableList"]
    }
    for report in discover_reports():
        assert report in names, f"view {report} missing"
        assert report_table(report, second.run_ids["youtube_reporting"]) in names
        assert report_table(report, first.run_ids["youtube_reporting"]) not in names
        old_prefix = s.report_location(report, first.run_ids["youtube_reporting"]).split("/", 3)[3]
        assert list(local_aws.list_objects(s.reporting_bucket, old_prefix)) == []


def test_dashboard_and_exports_are_written(runs) -> None:  # type: ignore[no-untyped-def]
    first, *_ = runs
    assert first.dashboard is not None and first.dashboard.stat().st_size > 1_000_000
    html = first.dashboard.read_text(encoding="utf-8")
    assert first.run_ids["youtube_reporting"] in html
    exported = [p for p in first.exported if p.suffix == ".csv"]
    assert len(exported) == len(first.reports) and "runs.jsonl" in {p.name for p in first.exported}
    for path in exported:
        with path.open(newline="", encoding="utf-8") as handle:
            header, *records = list(csv.reader(handle))
        key = report_key(path.stem)
        assert header[: len(key)] == list(key), path  # region first, then the rest of the key
    # Ranks read 1, 2, 3 … in each region (numeric order, not text order).
    ranks = [(row["region"], int(row["channel_rank"])) for row in first.reports["channel_leaderboard"]]
    assert ranks == sorted(ranks) and len(ranks) > 100


#: A log or warning line at warning level or above, in any of the formats make run can print: structlog's
#: console renderer (Airflow), the stdlib format make run configures, and Python's own warning display.
def _airflow_run_id(event: dict) -> str | None:  # type: ignore[type-arg]
    """The Airflow run id an OpenLineage event belongs to (its airflow run facet, or its parent's)."""
    facets = event.get("run", {}).get("facets", {})
    for name in ("airflow", "airflowDagRun"):
        dag_run = facets.get(name, {}).get("dagRun") or {}
        if dag_run.get("run_id"):
            return str(dag_run["run_id"])
    return None


def test_lineage_events_form_the_graph_raw_to_published_reports(runs, local_aws: LocalRuntime) -> None:  # type: ignore[no-untyped-def]
    """Every task's OpenLineage events, written by the file transport, connect raw -> processed -> analytics
    -> report tables -> published views by dataset names alone."""
    first, second, _, _ = runs
    # The session writes every dag.test() run's events to LINEAGE_DIR (tests/conftest.py): keep these runs'.
    run_ids = {*first.run_ids.values(), *second.run_ids.values()}
    events = [json.loads(p.read_text()) for p in sorted(LINEAGE_DIR.glob("event-*.json"))]
    events = [e for e in events if _airflow_run_id(e) in run_ids]
    completed = [e for e in events if e["eventType"] == "COMPLETE"]
    # Task events (job "<dag>.<task>"); dag.test() emits a DAG run's START but not its COMPLETE.
    started = {e["job"]["name"] for e in events if e["eventType"] == "START" and "." in e["job"]["name"]}
    assert started and started <= {e["job"]["name"] for e in completed}, "every started task completed"
    assert all(e["job"]["namespace"] == "youtube-dev" for e in events)
    edges: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for event in completed:
        for source in event.get("inputs", []):
            edges[(source["namespace"], source["name"])].update(
                (target["namespace"], target["name"]) for target in event.get("outputs", [])
            )

    def downstream(dataset: tuple[str, str]) -> set[tuple[str, str]]:
        seen, stack = set(), [dataset]
        while stack:
            for following in edges.get(stack.pop(), set()) - seen:
                seen.add(following)
                stack.append(following)
        return seen

    s = local_aws.settings

    def name(dataset: DatasetName) -> tuple[str, str]:
        return dataset.namespace, dataset.name

    from_raw = downstream(name(s3_dataset(s.raw_statistics_uri)))
    views = {name(table_dataset(s, s.analytics_database, r)) for r in discover_reports()}
    for stage in (
        s3_dataset(s.statistics_uri),
        table_dataset(s, s.processed_database, s.statistics_table),
        s3_dataset(s.analytics_uri),
        table_dataset(s, s.analytics_database, s.analytics_table),
    ):
        assert name(stage) in from_raw, stage
    assert views and views <= from_raw, sorted(views - from_raw)
    # The category files are converted by the S3-event Lambda as they land (outside Airflow); the run's
    # convert_reference_data only maps over files without a verdict yet, so it has nothing to do here and
    # the raw -> category_reference edge is the DAG's static lineage (tests/unit/test_lineage.py). What the
    # runs themselves show is the categories feeding every view.
    assert views <= downstream(name(s3_dataset(s.category_reference_uri))), "categories reach every view"
    # Each published view is fed by a report table of a run (the CTAS), not straight from the analytics.
    prefixes = tuple(f"{s.analytics_database}.{report}__" for report in discover_reports())
    run_tables = {d for d in from_raw if d[1].removeprefix("AwsDataCatalog.").startswith(prefixes)}
    assert len(run_tables) >= len(views)
