"""build_analytics: the join on (region, category_id), fallback titles and derived metrics.

Tiny frames for the rules; the real statistics (cleaned by clean_statistics) joined with the real category
JSON files for the counts, computed independently with the csv and json modules.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pyspark.sql import functions as F

from local.runtime import GLUE_SOURCE
from tests.glue_plans import folder_plan, write_plan
from youtube_lake import columns

pytestmark = pytest.mark.spark


def _load(name: str) -> ModuleType:
    # The scripts import their shared modules (lake_io.py; youtube_lake, installed here) as Glue's
    # --extra-py-files puts them on the path.
    if str(GLUE_SOURCE) not in sys.path:
        sys.path.insert(0, str(GLUE_SOURCE))
    spec = importlib.util.spec_from_file_location(f"glue_{name}", GLUE_SOURCE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ba = _load("build_analytics")
cs = _load("clean_statistics")

STATS_SCHEMA = (
    "region string, video_id string, category_id bigint, views bigint, likes bigint, "
    "dislikes bigint, comment_count bigint, trending_date date, publish_time timestamp"
)
CATEGORY_SCHEMA = "region string, category_id bigint, category_title string"


def stats(spark: Any, rows: list[tuple]) -> Any:
    df = spark.createDataFrame(rows, STATS_SCHEMA)
    for name in columns.STATISTICS_DATA:
        if name not in df.columns:
            df = df.withColumn(name, F.lit(None).cast("string"))
    return df.withColumn("dt", F.date_format("trending_date", "yyyy-MM-dd"))  # the partition column


def _row(
    region: str,
    vid: str,
    cat: int,
    views: int = 100,
    likes: int | None = 8,
    dislikes: int | None = 2,
    comments: int | None = 10,
) -> tuple:
    return (
        region,
        vid,
        cat,
        views,
        likes,
        dislikes,
        comments,
        dt.date(2017, 11, 14),
        dt.datetime(2017, 11, 12, 23, 0, 0),
    )


def test_join_is_per_region_and_never_multiplies(spark: Any) -> None:
    s = stats(spark, [_row("us", "a", 1), _row("fr", "b", 1), _row("fr", "c", 29), _row("ca", "d", 99)])
    c = spark.createDataFrame(
        [
            ("us", 1, "Film US"),
            ("fr", 1, "Film FR"),
            ("ca", 1, "Film CA"),
            ("us", 29, "Nonprofits & Activism"),
            ("fr", 1, "Film FR"),
        ],  # the same key twice, as a re-ingested file would leave it
        CATEGORY_SCHEMA,
    )
    out = {r["video_id"]: r for r in ba.build(s, c).collect()}
    assert len(out) == 4
    assert (out["a"]["category_title"], out["a"]["category_title_source"]) == ("Film US", "region")
    assert (out["b"]["category_title"], out["b"]["category_title_source"]) == ("Film FR", "region")
    assert (out["c"]["category_title"], out["c"]["category_title_source"]) == (
        "Nonprofits & Activism",
        "other_region",
    )
    assert (out["d"]["category_title"], out["d"]["category_title_source"]) == ("Unknown", "unknown")


def test_fallback_title_is_the_most_common(spark: Any) -> None:
    c = spark.createDataFrame(
        [("us", 5, "B"), ("gb", 5, "A"), ("de", 5, "B"), ("jp", 6, "Z"), ("kr", 6, "Y")], CATEGORY_SCHEMA
    )
    got = {r["category_id"]: r["fallback_title"] for r in ba.fallback_titles(ba.category_titles(c)).collect()}
    assert got == {5: "B", 6: "Y"}


@pytest.mark.parametrize(
    ("views", "likes", "dislikes", "comments", "engagement", "ratio"),
    [
        pytest.param(100, 8, 2, 10, 0.2, 0.8, id="normal"),
        pytest.param(0, 0, 0, 0, None, None, id="zero-views"),
        pytest.param(50, 0, 0, 5, 0.1, None, id="ratings-disabled"),
        # The API: no dislikes since 2021; no comment count with comments off; no likes when hidden.
        pytest.param(100, 8, None, 10, 0.18, None, id="api-no-dislikes"),
        pytest.param(100, 8, None, None, 0.08, None, id="api-comments-off"),
        pytest.param(100, None, None, 10, 0.1, None, id="api-likes-hidden"),
        pytest.param(100, None, None, None, None, None, id="api-nothing-known"),
    ],
)
def test_derived_metrics(
    spark: Any,
    views: int,
    likes: int | None,
    dislikes: int | None,
    comments: int | None,
    engagement: float | None,
    ratio: float | None,
) -> None:
    s = stats(spark, [_row("us", "a", 1, views, likes, dislikes, comments)])
    row = ba.build(s, spark.createDataFrame([("us", 1, "Film")], CATEGORY_SCHEMA)).first()
    assert row["engagement_rate"] == (None if engagement is None else pytest.approx(engagement))
    assert row["like_ratio"] == (None if ratio is None else pytest.approx(ratio))
    assert row["days_to_trend"] == 2


def test_output_columns_in_documented_order(spark: Any) -> None:
    s = stats(spark, [_row("us", "a", 1)])
    out = ba.build(s, spark.createDataFrame([("us", 1, "Film")], CATEGORY_SCHEMA))
    assert tuple(out.columns) == columns.ANALYTICS
    for name in columns.ANALYTICS:
        assert name in (ba.__doc__ or "")


# ---- on the real data ----------------------------------------------------------------------------


def category_reference(data_dir: Path, folder: str) -> list[tuple[str, int, str]]:
    """What the Lambda writes, built here from the JSON with the json module."""
    rows = []
    for path in sorted((data_dir / folder).glob("*_category_id.json")):
        region = path.name[:2].lower()
        for item in json.loads(path.read_text(encoding="utf-8"))["items"]:
            rows.append((region, int(item["id"]), item["snippet"]["title"]))
    return rows


@pytest.fixture(scope="module")
def real(spark: Any, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("analytics")
    plan = write_plan(base / "plan.json", folder_plan(data_dir / "raw_statistics"))
    cs.run(spark, plan, f"{base}/stats/", f"{base}/q/", f"{base}/ledger/", f"{base}/m/", "t")
    categories = spark.createDataFrame(
        category_reference(data_dir, "raw_statistics_reference_data"), CATEGORY_SCHEMA
    )
    categories.write.partitionBy("region").parquet(f"{base}/categories/")
    metrics = ba.run(spark, f"{base}/stats/", f"{base}/categories/", f"{base}/trending/", f"{base}/m/", "t")
    return {"base": base, "metrics": metrics}


def test_real_join_keeps_every_row_per_region(real: dict[str, Any], spark: Any, data_dir: Path) -> None:
    base = real["base"]
    expected = Counter()
    for path in (data_dir / "raw_statistics").rglob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            expected[path.parent.name.split("=")[1]] += len(
                {(r[0], r[1]) for r in list(csv.reader(handle))[1:]}
            )
    out = spark.read.parquet(f"{base}/trending/")
    assert {r["region"]: r["count"] for r in out.groupBy("region").count().collect()} == dict(expected)
    assert real["metrics"]["rows"] == sum(expected.values())
    assert {r: m["rows"] for r, m in real["metrics"]["regions"].items()} == dict(expected)


def test_real_category_29_gets_the_us_title(real: dict[str, Any], spark: Any, data_dir: Path) -> None:
    defined = {(r, c) for r, c, _ in category_reference(data_dir, "raw_statistics_reference_data")}
    us_title = {
        c: t for r, c, t in category_reference(data_dir, "raw_statistics_reference_data") if r == "us"
    }
    missing: Counter[str] = Counter()
    for path in (data_dir / "raw_statistics").rglob("*.csv"):
        region = path.parent.name.split("=")[1]
        with path.open(newline="", encoding="utf-8") as handle:
            missing[region] += sum((region, int(r[4])) not in defined for r in list(csv.reader(handle))[1:])
    assert missing["fr"] == 17 and missing["ca"] == 5  # as SOURCES.md states
    out = spark.read.parquet(f"{real['base']}/trending/")
    fallback = out.where("category_title_source = 'other_region'")
    assert {r["region"]: r["count"] for r in fallback.groupBy("region").count().collect()} == {
        k: v for k, v in missing.items() if v
    }
    assert {r["category_title"] for r in fallback.collect()} == {us_title[29]}
    assert real["metrics"]["unknown_category"] == sum(missing.values())
    metrics = json.loads((real["base"] / "m" / "run_id=t" / "metrics.json").read_text())
    assert metrics["unknown_category"] == sum(missing.values())


def test_rerun_is_idempotent(real: dict[str, Any], spark: Any) -> None:
    base = real["base"]
    before = spark.read.parquet(f"{base}/trending/").count()
    ba.run(spark, f"{base}/stats/", f"{base}/categories/", f"{base}/trending/", f"{base}/m/", "t2")
    assert spark.read.parquet(f"{base}/trending/").count() == before


def test_real_output_is_one_object_per_region_and_day(real: dict[str, Any], spark: Any) -> None:
    target = real["base"] / "trending"
    objects = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    days = {
        (r["region"], str(r["trending_date"]))
        for r in spark.read.parquet(str(real["base"] / "stats")).select("region", "trending_date").collect()
    }
    assert objects == sorted(f"region={r}/dt={d}/data.snappy.parquet" for r, d in days)
    assert real["metrics"]["partitions_written"] == len(days)
    dtypes = dict(ba.read_parquet(spark, str(target)).dtypes)
    assert (dtypes["dt"], dtypes["trending_date"], dtypes["region"]) == ("string", "date", "string")


def test_a_partition_the_statistics_lost_is_deleted(real: dict[str, Any], spark: Any, tmp_path: Path) -> None:
    import shutil

    stats = tmp_path / "stats"
    shutil.copytree(real["base"] / "stats", stats)
    (gone,) = [p for p in (stats / "region=gb").iterdir() if p.name == "dt=2017-11-17"]
    target = tmp_path / "trending"
    ba.run(spark, str(stats), str(real["base"] / "categories"), str(target), str(tmp_path / "m"), "one")
    assert (target / "region=gb" / "dt=2017-11-17" / "data.snappy.parquet").is_file()
    shutil.rmtree(gone)
    leftover = target / ba.STAGING_FOLDER / "killed" / "region=gb" / "x.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    metrics = ba.run(
        spark, str(stats), str(real["base"] / "categories"), str(target), str(tmp_path / "m"), "two"
    )
    assert metrics["partitions_deleted"] == ["region=gb/dt=2017-11-17"]
    assert not (target / "region=gb" / "dt=2017-11-17").exists()
    assert not (target / ba.STAGING_FOLDER).exists()
