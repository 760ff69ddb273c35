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
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from infra.local.runtime import LocalRuntime
from youtube_etl import reports
from youtube_etl.settings import Settings

RUN = "scheduled__2026-11-24T00:00:00+00:00"
DS = "2026-11-24"
COUNT_COLUMNS = ("views", "likes", "dislikes", "comment_count")
#: The analytics table's contract (Athena types); statistics has the same minus DERIVED_COLUMNS.
TRENDING_TYPES = {
    "video_id": "string", "trending_date": "date", "title": "string", "channel_id": "string",
    "channel_title": "string", "category_id": "bigint", "category_title": "string",
    "publish_time": "timestamp", "tags": "array<string>", "views": "bigint", "likes": "bigint",
    "dislikes": "bigint", "comment_count": "bigint", "thumbnail_link": "string",
    "comments_disabled": "boolean", "ratings_disabled": "boolean", "video_error_or_removed": "boolean",
    "description": "string",
    "source_file": "string", "engagement_rate": "double", "like_ratio": "double", "days_to_trend": "int",
    "region": "string",
}  # fmt: skip
#: Columns the Glue job adds to the cleaned statistics when it joins the category reference.
DERIVED_COLUMNS = ("category_title", "engagement_rate", "like_ratio", "days_to_trend")


# ---- the fixture data: trending-shaped rows from the real files -------------------------------------------
def _category_titles(data_dir: Path, region: str) -> dict[int, str]:
    document = json.loads(
        (data_dir / "raw_statistics_reference_data" / f"{region.upper()}_category_id.json").read_text()
    )
    return {int(item["id"]): item["snippet"]["title"] for item in document["items"]}


def build_trending(data_dir: Path) -> pd.DataFrame:
    """One row per (region, video_id, trending_date) from ``raw_statistics/region=xx/*.csv``."""
    frames = []
    for path in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        region = path.parent.name.removeprefix("region=")
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        titles = _category_titles(data_dir, region)
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
        frame["category_title"] = [titles.get(c, "Unknown") for c in frame["category_id"]]
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
        frame["region"] = region
        frames.append(frame.drop_duplicates(["video_id", "trending_date"], keep="last"))
    return pd.concat(frames, ignore_index=True)


def statistics_of(trending: pd.DataFrame) -> pd.DataFrame:
    return trending.drop(columns=list(DERIVED_COLUMNS))


# ---- the reports, computed independently with pandas ---------------------------------------------------
def expected_top_videos_by_region(t: pd.DataFrame, top_n: int) -> pd.DataFrame:
    ordered = t.sort_values(
        ["region", "trending_date", "views", "likes", "video_id"], ascending=[True, True, False, False, True]
    )
    ordered = ordered.assign(view_rank=ordered.groupby(["region", "trending_date"]).cumcount() + 1)
    top = ordered[ordered["view_rank"] <= top_n]
    columns = [
        "region", "trending_date", "view_rank", "video_id", "title", "channel_id", "channel_title",
        "category_id", "category_title", "publish_time", "days_to_trend", "views", "likes", "dislikes",
        "comment_count", "engagement_rate", "like_ratio",
    ]  # fmt: skip
    return top[columns]


def expected_category_performance(t: pd.DataFrame) -> pd.DataFrame:
    grouped = t.groupby(["region", "category_id"])
    out = pd.DataFrame(
        {
            "category_title": grouped["category_title"].max(),
            "videos": grouped["video_id"].nunique(),
            "trending_rows": grouped.size(),
            "total_views": grouped["views"].sum(),
            "avg_views": grouped["views"].mean(),
            "total_likes": grouped["likes"].sum(),
            "total_comments": grouped["comment_count"].sum(),
            "avg_engagement_rate": grouped["engagement_rate"].mean(),
            "avg_like_ratio": grouped["like_ratio"].mean(),
        }
    ).reset_index()
    region_views = t.groupby("region")["views"].sum()
    out["views_share"] = out["total_views"] / out["region"].map(region_views)
    return out


def expected_channel_leaderboard(t: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (region, channel), channel_rows in t.groupby(["region", "channel_title"]):
        per_video = channel_rows.groupby("video_id")["views"].max()
        rows.append(
            {
                "region": region,
                "channel_title": channel,
                "channel_id": channel_rows["channel_id"].dropna().max()
                if channel_rows["channel_id"].notna().any()
                else None,
                "appearances": len(channel_rows),
                "videos": len(per_video),
                "peak_views": int(per_video.sum()),
                "first_trending_date": channel_rows["trending_date"].min(),
                "last_trending_date": channel_rows["trending_date"].max(),
            }
        )
    out = pd.DataFrame(rows).sort_values(
        ["region", "appearances", "videos", "peak_views", "channel_title"],
        ascending=[True, False, False, False, True],
    )
    out["channel_rank"] = out.groupby("region").cumcount() + 1
    return out


def _nearest_rank(values: pd.Series, percent: int) -> int:
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)  # ceil(percent/100 * n) in integers
    return int(ordered[rank - 1])


def expected_days_to_trend(t: pd.DataFrame) -> pd.DataFrame:
    known = t[t["days_to_trend"].notna()]
    first = known.sort_values("trending_date").groupby(["region", "video_id"], as_index=False).first()
    rows = []
    for (region, category_id), group in first.groupby(["region", "category_id"]):
        days = group["days_to_trend"]
        rows.append(
            {
                "region": region,
                "category_id": category_id,
                "category_title": group["category_title"].max(),
                "videos": len(group),
                "min_days": int(days.min()),
                "p50_days": _nearest_rank(days, 50),
                "p90_days": _nearest_rank(days, 90),
                "max_days": int(days.max()),
                "avg_days": float(days.mean()),
                "trended_within_1_day": int((days <= 1).sum()),
            }
        )
    return pd.DataFrame(rows)


def expected_daily_trending_summary(t: pd.DataFrame) -> pd.DataFrame:
    first_day = t.groupby(["region", "video_id"])["trending_date"].transform("min")
    flagged = t.assign(is_new=t["trending_date"] == first_day)
    grouped = flagged.groupby(["region", "trending_date"])
    out = pd.DataFrame(
        {
            "videos": grouped["video_id"].nunique(),
            "new_entrants": grouped["is_new"].sum(),
            "channels": grouped["channel_title"].nunique(),
            "total_views": grouped["views"].sum(),
            "total_likes": grouped["likes"].sum(),
            "total_comments": grouped["comment_count"].sum(),
            "avg_engagement_rate": grouped["engagement_rate"].mean(),
        }
    ).reset_index()
    out["returning_videos"] = out["videos"] - out["new_entrants"]
    return out


def expected_region_summary(t: pd.DataFrame) -> pd.DataFrame:
    grouped = t.groupby("region")
    return pd.DataFrame(
        {
            "trending_rows": grouped.size(),
            "videos": grouped["video_id"].nunique(),
            "channels": grouped["channel_title"].nunique(),
            "trending_days": grouped["trending_date"].nunique(),
            "first_trending_date": grouped["trending_date"].min(),
            "last_trending_date": grouped["trending_date"].max(),
            "total_views": grouped["views"].sum(),
            "comments_disabled_rows": grouped["comments_disabled"].sum(),
            "ratings_disabled_rows": grouped["ratings_disabled"].sum(),
            "removed_rows": grouped["video_error_or_removed"].sum(),
        }
    ).reset_index()


#: report -> (its key columns, the expected frame from the trending data and settings)
EXPECTED: dict[str, tuple[list[str], Any]] = {
    "top_videos_by_region": (
        ["region", "trending_date", "view_rank"],
        lambda t, s: expected_top_videos_by_region(t, s.top_n),
    ),
    "category_performance": (["region", "category_id"], lambda t, s: expected_category_performance(t)),
    "channel_leaderboard": (["region", "channel_title"], lambda t, s: expected_channel_leaderboard(t)),
    "days_to_trend": (["region", "category_id"], lambda t, s: expected_days_to_trend(t)),
    "daily_trending_summary": (["region", "trending_date"], lambda t, s: expected_daily_trending_summary(t)),
    "region_summary": (["region"], lambda t, s: expected_region_summary(t)),
}


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
    for report, (_, expected) in EXPECTED.items():
        frame = expected(trending, settings)
        assert set(frame["region"]) == regions, report
    assert (trending["category_title"] == "Unknown").sum() > 0  # category 29 missing from CA/FR JSON


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
    return reports.render_sql(template, run_id=run_id, ds=DS, params=settings.sql_params())


def run_check(runtime: LocalRuntime, check: str, run_id: str = RUN) -> int:
    """Render and run one check like the DAG does, then evaluate its result (raises DataQualityError)."""
    template = next(c.template for c in reports.discover_checks() if c.name == check)
    return reports.evaluate_check(check, athena(runtime, render(template, runtime.settings, run_id)))


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
    keys, expected = EXPECTED[report]
    written = read_report(lake, report, RUN)
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
    for column in ("trending_date", "first_trending_date", "last_trending_date"):
        assert types.get(column, "date") == "date", column
    for column in ("views", "total_views", "peak_views", "videos", "trending_rows", "appearances"):
        assert types.get(column, "bigint") == "bigint", column
    counted = athena(lake, f"SELECT count(*) AS n FROM {lake.settings.analytics_database}.{table}")
    assert counted == [{"n": str(len(written))}]


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
    }
    assert sorted(expected) == sorted(
        c.name for c in reports.discover_checks(stage="reports") if c.baseline_view is None
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
    athena(runtime, reports.view_swap_sql("region_summary", run_id=first, params=s.sql_params()))
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
        athena(runtime, reports.view_swap_sql(report, run_id=run_id, params=s.sql_params()))
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
    athena(runtime, reports.view_swap_sql("category_performance", run_id=run_id, params=s.sql_params()))
    assert reports.discard_report_run(session, s, "category_performance", run_id) == []
    assert athena(runtime, f"SELECT count(*) AS n FROM {s.analytics_database}.category_performance") != [
        {"n": "0"}
    ]
