"""The Athena reports and checks, run through the local runtime's Athena executor on the real data.

The ``trending`` table is built here from the real datasnaek CSVs and category JSONs with a simple pandas
parse (fixture data: it need not match the Glue job), loaded into the runtime like the crawler would see
it, and every report's CTAS output is compared row for row with a separate pandas computation. Each
check passes on that data and is then proven to fail, with the right count, on deliberately broken data.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from local.runtime import LocalRuntime
from tests.report_model import EXPECTED, expected_days_to_trend, with_category_titles
from youtube_etl import reports
from youtube_etl.settings import Settings, get_settings
from youtube_lake.columns import ANALYTICS_DERIVED_TYPES
from youtube_lake.reports import get_report

RUN = "scheduled__2026-11-24T00:00:00+00:00"
DS = "2026-11-24"
COUNT_COLUMNS = ("views", "likes", "dislikes", "comment_count")
#: The analytics table's contract (Athena types); statistics has the same minus DERIVED_COLUMNS.
TRENDING_TYPES = {
    "video_id": "string", "trending_date": "date", "chart_rank": "int", "title": "string",
    "channel_id": "string",
    "channel_title": "string", "category_id": "bigint", "category_title": "string",
    "category_title_source": "string",
    "publish_time": "timestamp", "tags": "array<string>", "views": "bigint", "likes": "bigint",
    "dislikes": "bigint", "comment_count": "bigint", "thumbnail_link": "string",
    "comments_disabled": "boolean", "ratings_disabled": "boolean", "video_error_or_removed": "boolean",
    "description": "string",
    "source_file": "string", "engagement_rate": "double", "like_ratio": "double", "days_to_trend": "int",
    "region": "string",
}  # fmt: skip
#: Regions whose fixture rows carry a chart_rank (the others are CSV-only: null).
RANKED_REGIONS = ("us", "fr")
#: Columns the Glue job adds to the cleaned statistics when it joins the category reference.
DERIVED_COLUMNS = tuple(ANALYTICS_DERIVED_TYPES)


# ---- the fixture data: trending-shaped rows from the real files -------------------------------------------
def _category_titles(data_dir: Path, region: str) -> dict[int, str]:
    document = json.loads(
        (data_dir / "raw_statistics_reference_data" / f"{region.upper()}_category_id.json").read_text()
    )
    return {int(item["id"]): item["snippet"]["title"] for item in document["items"]}


def build_trending(data_dir: Path) -> pd.DataFrame:
    """One row per (region, video_id, trending_date) from ``raw_statistics/region=xx/*.csv``."""
    reference = sorted((data_dir / "raw_statistics_reference_data").glob("*_category_id.json"))
    titles = {
        p.name.split("_")[0].lower(): _category_titles(data_dir, p.name.split("_")[0]) for p in reference
    }
    frames = []
    for path in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.removeprefix("region=")
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame = pd.DataFrame(
            {
                "video_id": raw["video_id"],
                "trending_date": pd.to_datetime(raw["trending_date"], format="%y.%d.%m").dt.date,
                "title": raw["title"],
                "channel_id": pd.Series([None] * len(raw), dtype=object),
                "channel_title": raw["channel_title"],
                "category_id": raw["category_id"].astype("int64"),
            }
        )
        frame["region"] = region
        # A day's rows in file order are its chart; only some regions get a rank, as if the API's pages fed
        # them, so the reports see both ranked rows and the Kaggle rows' nulls.
        ranks = (frame.groupby("trending_date").cumcount() + 1).astype("Int32")
        frame["chart_rank"] = ranks if region in RANKED_REGIONS else pd.Series(pd.NA, frame.index, "Int32")
        frame = with_category_titles(frame, titles)
        frame["publish_time"] = pd.to_datetime(raw["publish_time"], utc=True).dt.tz_localize(None)
        frame["tags"] = [[] if t == "[none]" else [x.strip('"') for x in t.split("|")] for t in raw["tags"]]
        for column in COUNT_COLUMNS:
            frame[column] = raw[column].astype("int64")
        frame["thumbnail_link"] = raw["thumbnail_link"]
        for column in ("comments_disabled", "ratings_disabled", "video_error_or_removed"):
            frame[column] = raw[column].str.lower().eq("true")
        frame["description"] = raw["description"]
        frame["source_file"] = path.name
        views = frame["views"].astype(float)
        rated = (frame["likes"] + frame["dislikes"]).astype(float)
        frame["engagement_rate"] = (
            frame["likes"] + frame["dislikes"] + frame["comment_count"]
        ) / views.where(views > 0)
        frame["like_ratio"] = frame["likes"] / rated.where(rated > 0)
        published_day = frame["publish_time"].dt.normalize()
        frame["days_to_trend"] = (pd.to_datetime(frame["trending_date"]) - published_day).dt.days.astype(
            "int32"
        )
        frames.append(frame[[*TRENDING_TYPES]].drop_duplicates(["video_id", "trending_date"], keep="last"))
    return pd.concat(frames, ignore_index=True)


def statistics_of(trending: pd.DataFrame) -> pd.DataFrame:
    return trending.drop(columns=list(DERIVED_COLUMNS))


def _plain(value: Any) -> Any:
    """One comparable Python value from whatever pandas/pyarrow/DuckDB returned."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)  # DATE columns may come back as timestamps
    if isinstance(value, np.generic):
        return value.item()
    return value


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Equal row for row (after sorting by the grain): same columns, exact values, doubles to 1e-9."""
    assert sorted(actual.columns) == sorted(expected.columns)
    assert len(actual) == len(expected)
    actual = actual.sort_values(keys, kind="stable").reset_index(drop=True)
    expected = expected.sort_values(keys, kind="stable").reset_index(drop=True)
    for column in expected.columns:
        got = [_plain(v) for v in actual[column].astype(object)]
        want = [_plain(v) for v in expected[column].astype(object)]
        if any(isinstance(v, float) for v in want + got):
            assert [g is None for g in got] == [w is None for w in want], column
            np.testing.assert_allclose(
                [g for g in got if g is not None],
                [w for w in want if w is not None],
                rtol=1e-9,
                err_msg=column,
            )
        else:
            mismatches = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
            assert not mismatches, f"{column}: first mismatches (row, actual, expected) {mismatches[:3]}"


def test_the_expected_reports_are_not_trivial(trending: pd.DataFrame, settings: Settings) -> None:
    """Guards the comparison: on the real data every report has rows, in every region."""
    regions = set(trending["region"])
    assert regions == {"ca", "fr", "gb", "us"}
    for report, expected in EXPECTED.items():
        frame = expected(trending, settings)
        assert set(frame["region"]) == regions, report
    # Category 29 is missing from the CA and FR files: its rows carry the US title, marked as borrowed.
    borrowed = trending[trending["category_title_source"] == "other_region"]
    assert set(borrowed["region"]) == {"ca", "fr"} and set(borrowed["category_id"]) == {29}
    assert set(borrowed["category_title"]) == {"Nonprofits & Activism"}


def test_partial_days_on_the_real_data(lake: LocalRuntime) -> None:
    """CA and GB end mid-day on 2017-11-17 (186 and 162 of 200 videos); a 199-video day is not partial."""
    daily = read_report(lake, "daily_trending_summary", RUN)
    partial = {
        (r, str(d)[:10]) for r, d in daily.loc[daily["is_partial_day"], ["region", "trending_date"]].values
    }
    assert partial == {("ca", "2017-11-17"), ("gb", "2017-11-17")}
    # Nearest-rank median: GB's four days (162, 199, 199, 200) give 199.
    assert dict(daily.groupby("region")["typical_videos"].first()) == {
        "ca": 200,
        "fr": 200,
        "gb": 199,
        "us": 200,
    }
    assert (daily["videos"] == 199).sum() >= 3  # short days that are not cut by the file stay unflagged


def test_every_report_file_has_an_independent_expectation() -> None:
    assert sorted(EXPECTED) == reports.discover_reports()


# ---- running SQL through the local runtime ---------------------------------------------------------------
def athena(runtime: LocalRuntime, sql: str) -> list[dict[str, str | None]]:
    """Run one statement through the runtime's Athena API like AthenaOperator does; return result rows."""
    client = runtime.client("athena")
    s = runtime.settings
    query_id = client.start_query_execution(
        QueryString=sql,
        WorkGroup=s.athena_workgroup,
        QueryExecutionContext={"Database": s.analytics_database},
    )["QueryExecutionId"]
    deadline = time.monotonic() + 300
    while True:
        status = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            break
        assert time.monotonic() < deadline, f"query {query_id} still {status['State']}"
        time.sleep(0.05)
    if status["State"] != "SUCCEEDED":
        raise AssertionError(f"Athena query {status['State']}: {status.get('StateChangeReason')}\n{sql}")
    if not isinstance(sqlglot.parse_one(sql, read="athena"), exp.Query):
        return []  # DDL and CTAS: nothing to read back
    return reports.rows_from_athena(client.get_query_results(QueryExecutionId=query_id)["ResultSet"])


def render(template: str, settings: Settings, run_id: str = RUN) -> str:
    return reports.render_sql(template, run_id=run_id, ds=DS, sql_settings=settings.sql_settings())


def check_rows(runtime: LocalRuntime, check: str, run_id: str = RUN) -> list[dict[str, str | None]]:
    """Render and run one check like the DAG does (a per-report check with its run table's Glue columns)."""
    found = next(c for c in reports.discover_checks() if c.name == check)
    s = runtime.settings
    if found.report is None:
        return athena(runtime, render(found.template, s, run_id))
    columns = reports.run_table_columns(runtime.session(), s, found.report, run_id)
    sql = reports.render_sql(
        found.template,
        run_id=run_id,
        ds=DS,
        sql_settings=s.sql_settings(),
        params={"report": found.report},
        columns=columns,
    )
    return athena(runtime, sql)


def run_check(runtime: LocalRuntime, check: str, run_id: str = RUN) -> int:
    """Run one check, then evaluate its result (raises DataQualityError)."""
    return reports.evaluate_check(check, check_rows(runtime, check, run_id))


def build_report(runtime: LocalRuntime, report: str, run_id: str) -> None:
    session = runtime.session()
    reports.discard_report_run(session, runtime.settings, report, run_id)
    athena(runtime, render(reports.report_template(report), runtime.settings, run_id))


def load_tables(runtime: LocalRuntime, trending: pd.DataFrame, statistics: pd.DataFrame) -> None:
    """Write both tables as Glue and the crawlers leave them: Parquet by region, in the catalog."""
    import awswrangler as wr

    s = runtime.settings
    session = runtime.session()
    for frame, path, database, table in (
        (trending, s.analytics_uri, s.analytics_database, s.analytics_table),
        (statistics, s.statistics_uri, s.processed_database, s.statistics_table),
    ):
        wr.s3.to_parquet(
            frame.reset_index(drop=True),
            path=path,
            dataset=True,
            mode="overwrite",
            database=database,
            table=table,
            partition_cols=["region"],
            dtype={c: t for c, t in TRENDING_TYPES.items() if c in frame.columns},
            boto3_session=session,
        )


def read_report(runtime: LocalRuntime, report: str, run_id: str) -> pd.DataFrame:
    """What the CTAS wrote at the run's location (Parquet, the partition column restored from the path)."""
    import awswrangler as wr

    frame = wr.s3.read_parquet(
        runtime.settings.report_location(report, run_id), dataset=True, boto3_session=runtime.session()
    )
    if "region" in frame.columns:
        frame["region"] = frame["region"].astype(str)
    # awswrangler also reads the run=<id> folder of the location itself as a partition column.
    return frame.drop(columns=["run"], errors="ignore")


@pytest.fixture(scope="module")
def trending(data_dir: Path) -> pd.DataFrame:
    return build_trending(data_dir)


@pytest.fixture(scope="module")
def lake(local_aws: LocalRuntime, trending: pd.DataFrame) -> Iterator[LocalRuntime]:
    """The runtime, wiped, with the clean tables loaded and every report built for RUN."""
    local_aws.reset()
    load_tables(local_aws, trending, statistics_of(trending))
    for report in reports.discover_reports():
        build_report(local_aws, report, RUN)
    yield local_aws


@pytest.fixture
def clean_tables(lake: LocalRuntime, trending: pd.DataFrame) -> Iterator[LocalRuntime]:
    """For tests that break the tables: put the clean ones back afterwards."""
    yield lake
    load_tables(lake, trending, statistics_of(trending))


# ---- reports: equal row for row ---------------------------------------------------------------------------
@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in EXPECTED])
def test_report_equals_the_independent_computation(
    lake: LocalRuntime, trending: pd.DataFrame, report: str
) -> None:
    keys = list(reports.report_key(report))
    written = read_report(lake, report, RUN)
    assert not written.duplicated(keys).any(), f"{keys} identifies the rows of {report}"
    expected = EXPECTED[report]
    assert_same_rows(written, expected(trending, lake.settings), keys)
    # The CTAS registered the run table with the types a reader expects, and Athena reads it back whole.
    table = reports.report_table(report, RUN)
    glue_table = lake.client("glue").get_table(DatabaseName=lake.settings.analytics_database, Name=table)[
        "Table"
    ]
    types = {
        c["Name"]: c["Type"] for c in glue_table["StorageDescriptor"]["Columns"] + glue_table["PartitionKeys"]
    }
    assert set(types) == set(written.columns)
    counted = athena(lake, f"SELECT count(*) AS n FROM {lake.settings.analytics_database}.{table}")
    assert counted == [{"n": str(len(written))}]


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in reports.discover_reports()])
def test_ctas_writes_exactly_the_declared_columns_and_types(lake: LocalRuntime, report: str) -> None:
    """What every reader relies on (exports, the dashboard, the QuickSight datasets): the run table the CTAS
    registered has the declared columns, in order (partition columns last), with the declared types, and
    its Parquet files hold exactly those columns with those types."""
    import awswrangler as wr

    declared = list(get_report(report).types.items())
    table = reports.report_table(report, RUN)
    glue_table = lake.client("glue").get_table(DatabaseName=lake.settings.analytics_database, Name=table)[
        "Table"
    ]
    registered = [
        (c["Name"], c["Type"])
        for c in glue_table["StorageDescriptor"]["Columns"] + glue_table["PartitionKeys"]
    ]
    assert registered == declared
    # The Parquet files themselves, in Athena types (awswrangler maps the Arrow schema); the partition column
    # lives in the folder names (region=xx), so only the catalog types it.
    files, _ = wr.s3.read_parquet_metadata(
        lake.settings.report_location(report, RUN), dataset=True, boto3_session=lake.session()
    )
    written = {name: kind for name, kind in files.items() if name != "run"}
    partitions = {key["Name"] for key in glue_table["PartitionKeys"]}
    assert {name: kind for name, kind in written.items() if name not in partitions} == {
        name: kind for name, kind in declared if name not in partitions
    }


def test_only_top_videos_is_partitioned_and_by_region(lake: LocalRuntime) -> None:
    for report in reports.discover_reports():
        prefix = reports.split_s3_uri(lake.settings.report_location(report, RUN))[1]
        keys = [o["Key"] for o in lake.list_objects(lake.settings.reporting_bucket, prefix)]
        assert keys, report
        partitioned = {k[len(prefix) :].split("/")[0] for k in keys if "/" in k[len(prefix) :]}
        if report == "top_videos_by_region":
            assert partitioned == {"region=ca", "region=fr", "region=gb", "region=us"}
        else:
            assert partitioned == set(), report


# ---- checks: pass on the real data, fail on broken data -------------------------------------------------
@pytest.mark.parametrize(
    "check", [pytest.param(c.name, id=c.name) for c in reports.discover_checks() if c.baseline_view is None]
)
def test_check_passes_on_the_real_data(lake: LocalRuntime, check: str) -> None:
    assert run_check(lake, check) == 0


@pytest.mark.parametrize("report", [pytest.param(r, id=r) for r in EXPECTED])
def test_readable_check_reads_every_value_of_every_column(lake: LocalRuntime, report: str) -> None:
    """values_read is every non-null value the CTAS wrote, partition column included: a check that skipped a
    column (or read none, like count(*)) would count fewer."""
    (row,) = check_rows(lake, f"readable_{report}")
    written = read_report(lake, report, RUN)
    assert row["failures"] == "0" and not row["example"]
    assert int(row["values_read"] or 0) == int(written.notna().sum().sum()) > len(written)


# ---- a run table nobody can read end to end: written straight to the lake, bypassing the edges -----------
def copy_run(report: str, source_run: str, run_id: str, change: Callable[[int, bytes], bytes]) -> None:
    """Register ``run_id``'s table of an unpartitioned report as a copy of ``source_run``'s, each data file
    passed through ``change(file index, Parquet bytes)``. Through the process's AWS environment (the runtime),
    so a probe DAG's task can call it too."""
    import boto3

    s = get_settings()
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    source = glue.get_table(DatabaseName=s.analytics_database, Name=reports.report_table(report, source_run))
    bucket, prefix = reports.split_s3_uri(s.report_location(report, source_run))
    target = reports.split_s3_uri(s.report_location(report, run_id))[1]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))
    assert keys and all("/" not in k[len(prefix) :] for k in keys), f"{report} is not one folder of files"
    for index, key in enumerate(keys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=bucket, Key=target + key[len(prefix) :], Body=change(index, body))
    table = {
        k: v for k, v in source["Table"].items() if k in ("StorageDescriptor", "PartitionKeys", "TableType")
    }
    table["StorageDescriptor"] = {**table["StorageDescriptor"], "Location": s.report_location(report, run_id)}
    glue.create_table(
        DatabaseName=s.analytics_database,
        TableInput={
            **table,
            "Name": reports.report_table(report, run_id),
            "Parameters": {"EXTERNAL": "TRUE"},
        },
    )


#: Latin-1 where UTF-8 belongs (issue 16): what a category file in Windows-1252 would have become.
LATIN1 = "Musique et Vidéos".encode("latin-1")


def latin1_text(cells: dict[str, list[int]]) -> Callable[[int, bytes], bytes]:
    """A ``copy_run`` change: in the first file, the given rows of each column hold Latin-1 bytes."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    def change(index: int, body: bytes) -> bytes:
        if index:
            return body
        table = pq.read_table(io.BytesIO(body))
        for column, rows in cells.items():
            values = table[column].cast(pa.binary()).to_pylist()
            for row in rows:
                values[row] = LATIN1
            position = table.schema.get_field_index(column)
            table = table.set_column(position, column, pa.array(values, pa.binary()).view(pa.string()))
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()

    return change


def truncated(index: int, body: bytes) -> bytes:
    """A ``copy_run`` change: the first file cut in half (a value that cannot be read at all)."""
    return body[: len(body) // 2] if index == 0 else body


def test_readable_check_fails_on_invalid_utf8_naming_report_column_and_count(lake: LocalRuntime) -> None:
    run_id = "manual__latin1"
    # Rows 0 and 1 have a bad title; row 1 also a bad title source: two rows, three values.
    copy_run(
        "category_performance",
        RUN,
        run_id,
        latin1_text({"category_title": [0, 1], "category_title_source": [1]}),
    )
    rows = len(read_report(lake, "category_performance", RUN))
    with pytest.raises(reports.DataQualityError) as caught:
        run_check(lake, "readable_category_performance", run_id)
    assert (caught.value.check, caught.value.failures) == ("readable_category_performance", 2)
    assert caught.value.example == (
        f"category_performance.category_title: 2 of {rows} values are not valid UTF-8; "
        f"category_performance.category_title_source: 1 of {rows} values are not valid UTF-8"
    )
    # A run whose CTAS never registered a table: the lookup of its columns names the report.
    with pytest.raises(LookupError, match="report 'category_performance': run table .* is not in the Glue"):
        reports.run_table_columns(lake.session(), lake.settings, "category_performance", "manual__never")
    # The case of issue 16: reading the table whole fails (locally; Athena would hand the bytes to readers).
    db = lake.settings.analytics_database
    with pytest.raises(AssertionError, match="UnicodeDecodeError"):
        athena(lake, f"SELECT * FROM {db}.{reports.report_table('category_performance', run_id)}")


def _null_keys(t: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    broken = t.copy()
    us = broken.index[broken["region"] == "us"]
    broken.loc[us[:2], "video_id"] = None
    broken["trending_date"] = broken["trending_date"].astype(object)
    broken.loc[us[2:3], "trending_date"] = None
    return broken, statistics_of(t), 3


def _duplicate_keys(t: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    broken = pd.concat([t, t.iloc[[5, 5, 900]]], ignore_index=True)
    return broken, statistics_of(t), 3


def _negative_counts(t: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    broken = t.copy()
    broken.loc[broken.index[10], "views"] = -5
    broken.loc[broken.index[20], "likes"] = -1
    statistics = statistics_of(t)
    statistics.loc[statistics.index[30], "comment_count"] = -2
    return broken, statistics, 3


def _unjoined_rows(t: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    fr = t.index[t["region"] == "fr"]
    return t.drop(index=fr[:4]), statistics_of(t), 4


@pytest.mark.parametrize(
    ("check", "breaker"),
    [
        pytest.param("not_null_keys", _null_keys, id="null-key"),
        pytest.param("unique_keys", _duplicate_keys, id="duplicate-key"),
        pytest.param("non_negative_counts", _negative_counts, id="negative-count"),
        pytest.param("statistics_joined", _unjoined_rows, id="unjoined-statistics-row"),
    ],
)
def test_source_check_fails_on_broken_data(
    clean_tables: LocalRuntime, trending: pd.DataFrame, check: str, breaker: Any
) -> None:
    broken, statistics, offending = breaker(trending)
    load_tables(clean_tables, broken, statistics)
    with pytest.raises(reports.DataQualityError) as caught:
        run_check(clean_tables, check)
    assert caught.value.check == check
    assert caught.value.failures == offending
    assert caught.value.example
    assert f"'{check}' failed: {offending} offending" in str(caught.value)


def test_statistics_published_after_the_analytics_snapshot_are_left_to_the_next_run(
    clean_tables: LocalRuntime, trending: pd.DataFrame
) -> None:
    """youtube_ingest may publish while youtube_reporting checks (a backfill's next day): rows of a source
    file the analytics table was not built from, and a key whose row a newer file replaced, are not a join
    that dropped rows; a row dropped from a file the analytics was built from still is."""
    statistics = statistics_of(trending)
    later_day = statistics["trending_date"].max() + pd.Timedelta(days=1)
    new_day = (
        statistics[statistics["region"] == "gb"]
        .head(3)
        .assign(trending_date=later_day, source_file="gb_later.csv")
    )
    replaced = statistics.index[statistics["region"] == "us"][0]
    statistics.loc[replaced, "source_file"] = "us_later.csv"
    statistics = pd.concat([statistics, new_day], ignore_index=True)
    load_tables(clean_tables, trending, statistics)
    assert run_check(clean_tables, "statistics_joined") == 0

    fr = trending.index[trending["region"] == "fr"]
    load_tables(clean_tables, trending.drop(index=fr[:2]), statistics)
    with pytest.raises(reports.DataQualityError) as caught:
        run_check(clean_tables, "statistics_joined")
    assert caught.value.failures == 2
    assert "region=fr" in caught.value.example


# ---- rules on small synthetic data ------------------------------------------------------------------------
def synthetic_rows(template: pd.Series, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Trending rows that differ from one real row only in the fields given."""
    return pd.DataFrame([{**template.to_dict(), **row} for row in rows])[[*TRENDING_TYPES]]


def test_channels_are_keyed_on_channel_id_with_their_latest_title(
    clean_tables: LocalRuntime, trending: pd.DataFrame
) -> None:
    """Two channels sharing a title stay apart, a renamed channel stays one (shown by its latest title,
    the greatest on a tie), and rows without a channel_id (the older format) are keyed on their title."""
    d1, d2, d3 = date(2020, 8, 12), date(2020, 8, 13), date(2020, 8, 14)
    rows = [
        {"video_id": "v1", "channel_id": "UC1", "channel_title": "Alpha", "trending_date": d1},
        {"video_id": "v1", "channel_id": "UC1", "channel_title": "Alpha TV", "trending_date": d2},
        {"video_id": "v2", "channel_id": "UC1", "channel_title": "Alpha TV", "trending_date": d3},
        {"video_id": "v3", "channel_id": "UC1", "channel_title": "Alpha HD", "trending_date": d3},
        {"video_id": "v4", "channel_id": "UC2", "channel_title": "Alpha", "trending_date": d1},
        {"video_id": "v5", "channel_id": None, "channel_title": "Alpha", "trending_date": d2},
        {"video_id": "v6", "channel_id": None, "channel_title": "Alpha", "trending_date": d3},
    ]
    table = synthetic_rows(trending.iloc[0], [{**r, "region": "us"} for r in rows])
    load_tables(clean_tables, table, statistics_of(table))
    run_id = "manual__channels"
    build_report(clean_tables, "channel_leaderboard", run_id)
    board = read_report(clean_tables, "channel_leaderboard", run_id).sort_values("channel_rank")
    got = [
        tuple(
            _plain(v)
            for v in (r.channel_rank, r.channel_id, r.channel_title, r.titles, r.appearances, r.videos)
        )
        for r in board.itertuples()
    ]
    assert got == [
        (1, "UC1", "Alpha TV", 3, 4, 3),
        (2, None, "Alpha", 1, 2, 2),
        (3, "UC2", "Alpha", 1, 1, 1),
    ]
    assert run_check(clean_tables, "reconcile_channel_leaderboard", run_id) == 0
    build_report(clean_tables, "region_summary", run_id)
    assert read_report(clean_tables, "region_summary", run_id)["channels"].tolist() == [3]


def test_top_videos_break_a_tie_on_views_by_likes(clean_tables: LocalRuntime, trending: pd.DataFrame) -> None:
    """Equal views on one region-day: more likes ranks first, whichever video_id sorts first."""
    day = date(2020, 8, 12)
    rows = [
        {"video_id": "v_few_likes", "views": 500, "likes": 10},
        {"video_id": "v_more_likes", "views": 500, "likes": 90},
        {"video_id": "v_most_views", "views": 900, "likes": 1},
    ]
    table = synthetic_rows(trending.iloc[0], [{**r, "region": "us", "trending_date": day} for r in rows])
    load_tables(clean_tables, table, statistics_of(table))
    run_id = "manual__ties"
    build_report(clean_tables, "top_videos_by_region", run_id)
    top = read_report(clean_tables, "top_videos_by_region", run_id).sort_values("view_rank")
    assert [(_plain(r.view_rank), r.video_id) for r in top.itertuples()] == [
        (1, "v_most_views"),
        (2, "v_more_likes"),
        (3, "v_few_likes"),
    ]


def test_a_partial_day_is_a_short_last_day_of_a_source_file(
    clean_tables: LocalRuntime, trending: pd.DataFrame
) -> None:
    days = [date(2020, 8, 12), date(2020, 8, 13), date(2020, 8, 14)]

    def day_rows(region: str, source_file: str, day: date, videos: int) -> list[dict[str, Any]]:
        return [
            {"region": region, "source_file": source_file, "trending_date": day, "video_id": f"v{i}"}
            for i in range(videos)
        ]

    rows = [
        # xx: its file ends after 9 of 10 videos on the last day (9 < 0.95 x 10): partial.
        *day_rows("xx", "a.csv", days[0], 10),
        *day_rows("xx", "a.csv", days[1], 10),
        *day_rows("xx", "a.csv", days[2], 9),
        # yy: a short day in the middle of its file is real data; its last day is full.
        *day_rows("yy", "b.csv", days[0], 10),
        *day_rows("yy", "b.csv", days[1], 6),
        *day_rows("yy", "b.csv", days[2], 10),
        # zz: the short end of c.csv is completed by d.csv, whose own last day is full.
        *day_rows("zz", "c.csv", days[0], 10),
        *day_rows("zz", "c.csv", days[1], 4),
        *[
            {**r, "video_id": f"w{i}", "source_file": "d.csv"}
            for i, r in enumerate(day_rows("zz", "", days[1], 6))
        ],
        *day_rows("zz", "d.csv", days[2], 10),
    ]
    table = synthetic_rows(trending.iloc[0], rows)
    load_tables(clean_tables, table, statistics_of(table))
    run_id = "manual__partial"
    build_report(clean_tables, "daily_trending_summary", run_id)
    daily = read_report(clean_tables, "daily_trending_summary", run_id)
    flags = {
        (r.region, str(r.trending_date)[:10], r.videos): bool(r.is_partial_day) for r in daily.itertuples()
    }
    assert flags == {
        ("xx", "2020-08-12", 10): False,
        ("xx", "2020-08-13", 10): False,
        ("xx", "2020-08-14", 9): True,
        ("yy", "2020-08-12", 10): False,
        ("yy", "2020-08-13", 6): False,
        ("yy", "2020-08-14", 10): False,
        ("zz", "2020-08-12", 10): False,
        ("zz", "2020-08-13", 10): False,
        ("zz", "2020-08-14", 10): False,
    }
    assert set(daily["typical_videos"]) == {10}
    assert run_check(clean_tables, "reconcile_daily_trending_summary", run_id) == 0


def _rows_to_lose(t: pd.DataFrame) -> tuple[pd.Index, str, bool]:
    """In CA, a day's most viewed row plus one row of a video that trended on that day only."""
    ca = t[t["region"] == "ca"]
    day = sorted(ca["trending_date"].unique())[1]
    on_day = ca[ca["trending_date"] == day]
    top = on_day["views"].idxmax()
    appearances = ca.groupby("video_id").size()
    once = on_day[on_day["video_id"].map(appearances) == 1].index.difference([top])
    assert len(once) > 0
    top_trended_once = bool(appearances[ca.loc[top, "video_id"]] == 1)
    return pd.Index([top, once[0]]), str(day), top_trended_once


def test_report_checks_fail_when_the_source_no_longer_reconciles(
    clean_tables: LocalRuntime, trending: pd.DataFrame
) -> None:
    """Reports built on the clean data, then two CA source rows lost: every reconciliation check fails."""
    lost, day, top_trended_once = _rows_to_lose(trending)
    ca_days = trending.loc[trending["region"] == "ca", "trending_date"]
    assert (ca_days.astype(str) == day).sum() - 2 >= clean_tables.settings.top_n  # top list stays full
    load_tables(clean_tables, trending.drop(index=lost), statistics_of(trending))
    # The videos lost a row: ca's distinct videos drop by 1 (+1 when the top video trended once too).
    lost_videos = 1 + int(top_trended_once)
    expected = {
        "reconcile_category_performance": 1,  # ca's rows and views
        "reconcile_channel_leaderboard": 1,  # ca's appearances
        "reconcile_daily_trending_summary": 2,  # (ca, day) and ca's new entrants
        "reconcile_days_to_trend": 1 if lost_videos else 0,  # ca's distinct videos
        "reconcile_region_summary": 1,  # ca's rows
        "reconcile_top_videos_by_region": 1,  # (ca, day): rank 1 is gone from the source
        # ca's rows in category_daily and channel_daily, and its distinct videos in days_to_trend_daily
        "reconcile_daily_reports": 2 + (1 if lost_videos else 0),
    }
    # Every check that compares with the source (readable_<report> reads the run table alone).
    assert sorted(expected) == sorted(
        c.name
        for c in reports.discover_checks(stage="reports")
        if c.baseline_view is None and c.report is None
    )
    for check, offending in expected.items():
        with pytest.raises(reports.DataQualityError) as caught:
            run_check(clean_tables, check)
        assert (caught.value.check, caught.value.failures) == (check, offending)
        assert "region=ca" in str(caught.value)


def test_row_count_drop_compares_with_the_published_run(
    clean_tables: LocalRuntime, trending: pd.DataFrame
) -> None:
    runtime = clean_tables
    s = runtime.settings
    session = runtime.session()
    first, second, third = (f"scheduled__2026-11-2{i}T00:00:00+00:00" for i in (5, 6, 7))
    athena(runtime, f"DROP VIEW IF EXISTS {s.analytics_database}.region_summary")
    build_report(runtime, "region_summary", first)

    def applicable() -> set[str]:
        tables = reports.existing_tables(session, s.analytics_database)
        return {c.name for c in reports.applicable_checks(reports.discover_checks(), tables)}

    assert "row_count_drop" not in applicable()  # the first run has nothing to compare with
    athena(runtime, reports.view_swap_sql("region_summary", run_id=first, sql_settings=s.sql_settings()))
    assert "row_count_drop" in applicable()

    # gb keeps 60% of its rows (a 40% drop: within the 50% threshold): passes.
    gb = trending.index[trending["region"] == "gb"]
    keep_60 = trending.drop(index=gb[: int(len(gb) * 0.4)])
    load_tables(runtime, keep_60, statistics_of(keep_60))
    build_report(runtime, "region_summary", second)
    assert run_check(runtime, "row_count_drop", second) == 0

    # gb keeps 40% and fr disappears: two regions fail.
    keep_40 = trending.drop(index=gb[: int(len(gb) * 0.6)])
    keep_40 = keep_40[keep_40["region"] != "fr"]
    load_tables(runtime, keep_40, statistics_of(keep_40))
    build_report(runtime, "region_summary", third)
    with pytest.raises(reports.DataQualityError) as caught:
        run_check(runtime, "row_count_drop", third)
    assert caught.value.failures == 2
    assert "region=fr" in str(caught.value) or "region=gb" in str(caught.value)


# ---- publishing: views swap, old runs go -----------------------------------------------------------------
def test_views_swap_and_retention_drops_the_oldest_runs(lake: LocalRuntime, trending: pd.DataFrame) -> None:
    runtime = lake
    s = runtime.settings
    session = runtime.session()
    report = "days_to_trend"  # no other test builds more runs of it
    runs = [f"manual__2026-12-0{i}T00:00:00+00:00" for i in range(1, 5)]
    for run_id in runs:
        build_report(runtime, report, run_id)
        athena(runtime, reports.view_swap_sql(report, run_id=run_id, sql_settings=s.sql_settings()))
        shown = athena(runtime, f"SELECT sum(videos) AS n FROM {s.analytics_database}.{report}")
        assert shown == [{"n": str(trending.groupby("region")["video_id"].nunique().sum())}]
    view = session.client("glue").get_table(DatabaseName=s.analytics_database, Name=report)["Table"]
    assert reports.view_points_at(view, reports.report_table(report, runs[-1]))

    before = {r.table for r in reports.list_report_runs(session, s, report)}
    dropped = reports.delete_report_runs(session, s, report, runs[-1], retention=3)
    after = {r.table for r in reports.list_report_runs(session, s, report)}
    # RUN (built by the fixture) and runs[0] are the oldest of six; three stay.
    assert dropped == [reports.report_table(report, RUN), reports.report_table(report, runs[0])]
    assert after == before - set(dropped) and len(after) == 3
    for run_id in (RUN, runs[0]):
        prefix = reports.split_s3_uri(s.report_location(report, run_id))[1]
        assert list(runtime.list_objects(s.reporting_bucket, prefix)) == []
    shown = athena(runtime, f"SELECT count(*) AS n FROM {s.analytics_database}.{report}")
    assert shown == [{"n": str(len(expected_days_to_trend(trending)))}]
    # The published table survives even a retention of 1 computed for another run.
    reports.delete_report_runs(session, s, report, "manual__other", retention=1)
    assert reports.report_table(report, runs[-1]) in {
        r.table for r in reports.list_report_runs(session, s, report)
    }


def test_retention_keeps_the_published_run_even_when_it_is_the_oldest(lake: LocalRuntime) -> None:
    runtime = lake
    s = runtime.settings
    session = runtime.session()
    report = "channel_daily"  # no other test builds more runs of it
    # the oldest run
    athena(runtime, reports.view_swap_sql(report, run_id=RUN, sql_settings=s.sql_settings()))
    newer = [f"manual__2026-12-1{i}T00:00:00+00:00" for i in range(1, 4)]
    for run_id in newer:
        build_report(runtime, report, run_id)
    dropped = reports.delete_report_runs(session, s, report, newer[-1], retention=1)
    assert dropped == [reports.report_table(report, run_id) for run_id in newer[:-1]]
    kept = {r.table for r in reports.list_report_runs(session, s, report)}
    assert kept == {reports.report_table(report, RUN), reports.report_table(report, newer[-1])}
    shown = athena(runtime, f"SELECT count(*) AS n FROM {s.analytics_database}.{report}")
    assert shown == [{"n": str(len(read_report(runtime, report, RUN)))}]


def test_a_retried_ctas_starts_from_a_clean_slate(lake: LocalRuntime) -> None:
    """A CTAS cannot reuse a table or write into a non-empty folder: discarding the run first makes retries
    idempotent, while the published run is never discarded."""
    runtime = lake
    s = runtime.settings
    session = runtime.session()
    run_id = "manual__retry"
    build_report(runtime, "category_performance", run_id)
    build_report(runtime, "category_performance", run_id)  # the retry
    assert len(read_report(runtime, "category_performance", run_id)) > 0
    swap = reports.view_swap_sql("category_performance", run_id=run_id, sql_settings=s.sql_settings())
    athena(runtime, swap)
    assert reports.discard_report_run(session, s, "category_performance", run_id) == []
    assert athena(runtime, f"SELECT count(*) AS n FROM {s.analytics_database}.category_performance") != [
        {"n": "0"}
    ]


PROBE_DAG = """
from datetime import datetime

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import TriggerRule, chain, dag, task

from tests.aws.test_reports_sql import RUN, copy_run, latin1_text, truncated
from youtube_etl.dag_support import sql_dir
from youtube_etl.operators import AthenaCheckOperator
from youtube_etl.reports import discover_checks, report_macros
from youtube_etl.settings import get_settings

settings = get_settings()
REPORTS = ("category_performance", "region_summary")
athena_args = dict(
    database=settings.analytics_database,
    workgroup=settings.athena_workgroup,
    aws_conn_id=settings.aws_conn_id,
    sleep_time=0.2,
    retries=0,
)


@dag(
    dag_id="unreadable_report_probe",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    template_searchpath=[str(sql_dir(settings))],
    user_defined_macros=report_macros(settings.sql_settings()),
)
def unreadable_report_probe():
    @task
    def write_unreadable_runs(run_id=None):
        copy_run("category_performance", RUN, run_id, latin1_text({"category_title": [0]}))
        copy_run("region_summary", RUN, run_id, truncated)

    checks = [
        AthenaCheckOperator(
            task_id=f"check_{c.name}",
            check_name=c.name,
            query=c.template,
            report=c.report,
            settings=settings,
            **athena_args,
        )
        for c in discover_checks(stage="reports")
        if c.report in REPORTS
    ]
    publish = [
        AthenaOperator(
            task_id=f"publish_{report}",
            query="views/swap_view.sql",
            params={"report": report},
            trigger_rule=TriggerRule.NONE_FAILED,
            **athena_args,
        )
        for report in REPORTS
    ]
    chain(write_unreadable_runs(), checks, publish)


dag = unreadable_report_probe()
"""


@pytest.mark.usefixtures("airflow_db")
def test_an_unreadable_report_fails_its_check_and_the_view_stays_on_the_previous_run(
    lake: LocalRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dag.test() of the check and publish tasks as the DAG wires them, on this run's tables written straight
    to the lake: Latin-1 text in category_performance fails its check naming the column; a truncated Parquet
    file in region_summary fails the check query naming the report; neither view moves."""
    from tests.airflow_dags import run_dag_file

    s = lake.settings
    glue = lake.client("glue")
    for report in ("category_performance", "region_summary"):
        athena(lake, reports.view_swap_sql(report, run_id=RUN, sql_settings=s.sql_settings()))
    run = run_dag_file(PROBE_DAG, "unreadable_report_probe", tmp_path, monkeypatch)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "write_unreadable_runs": "success",
        "check_readable_category_performance": "failed",
        "check_readable_region_summary": "failed",
        "publish_category_performance": "upstream_failed",
        "publish_region_summary": "upstream_failed",
    }
    for report in ("category_performance", "region_summary"):
        view = glue.get_table(DatabaseName=s.analytics_database, Name=report)["Table"]
        assert reports.view_points_at(view, reports.report_table(report, RUN)), report
    log = capsys.readouterr()
    text = log.out + log.err
    assert "category_performance.category_title: 1 of " in text
    assert "data-quality check 'readable_category_performance' failed: 1 offending row(s)" in text
    # The failure names the check, its report, the query and Athena's own reason (StateChangeReason).
    failed = (
        "data-quality check 'readable_region_summary' on report 'region_summary': the check query failed: "
    )
    assert failed + "Athena query " in text
    assert "FAILED: GENERIC_INTERNAL_ERROR: ArrowInvalid: Could not open Parquet input source" in text
