"""Each transform of the local ``awsglue`` against the same result computed with plain DataFrames, on the
real statistics CSV and on small synthetic frames for each rule (in-process Spark, no S3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from localaws import in_process_conf
from localaws._glue_etl.awsglue import DynamicFrame, NotCoveredError
from localaws._glue_etl.awsglue.context import GlueContext
from localaws._glue_etl.awsglue.transforms import (
    ApplyMapping,
    DropNullFields,
    Filter,
    Join,
    Relationalize,
    RenameField,
    ResolveChoice,
    SelectFields,
)
from localaws._glue_etl.awsglue.utils import GlueArgumentError, getResolvedOptions

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def glue_context() -> Iterator[GlueContext]:
    builder = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
    )
    for key, value in in_process_conf().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield GlueContext(session.sparkContext)
    session.stop()


@pytest.fixture(scope="module")
def statistics(glue_context: GlueContext, data_dir: Path) -> DataFrame:
    """The real CA statistics, read as Glue's CSV reader reads them (header, quoted multi-line fields)."""
    path = str(data_dir / "raw_statistics" / "region=ca" / "CAvideos.csv")
    spark = glue_context.spark_session
    return (
        spark.read.option("header", True)
        .option("multiLine", True)
        .option("escape", '"')
        .option("inferSchema", True)
        .csv(path)
        .cache()
    )


def rows(df: DataFrame) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in df.collect()), key=repr)


def frame(glue_context: GlueContext, df: DataFrame) -> DynamicFrame:
    return DynamicFrame.fromDF(df, glue_context, "test")


def test_apply_mapping_selects_renames_and_casts_like_select_cast(
    glue_context: GlueContext, statistics: DataFrame
) -> None:
    mapped = ApplyMapping.apply(
        frame=frame(glue_context, statistics),
        mappings=[
            ("video_id", "string", "id", "string"),
            ("views", "long", "views", "string"),
            ("likes", "long", "counts.likes", "double"),
            ("dislikes", "long", "counts.dislikes", "int"),
        ],
    ).toDF()
    plain = statistics.select(
        F.col("video_id").alias("id"),
        F.col("views").cast("string").alias("views"),
        F.struct(
            F.col("likes").cast("double").alias("likes"), F.col("dislikes").cast("int").alias("dislikes")
        ).alias("counts"),
    )
    assert mapped.schema == plain.schema
    assert rows(mapped) == rows(plain)
    assert mapped.count() == 786


def test_apply_mapping_gives_nulls_for_an_absent_source_and_for_values_that_do_not_cast(
    glue_context: GlueContext,
) -> None:
    df = glue_context.spark_session.createDataFrame([("7",), ("seven",)], "n string")
    mapped = ApplyMapping.apply(
        frame=frame(glue_context, df), mappings=[("n", "string", "n", "long"), ("gone", "string", "g", "int")]
    ).toDF()
    assert [f.simpleString() for f in mapped.schema.fields] == ["n:bigint", "g:int"]
    assert rows(mapped) == sorted([(7, None), (None, None)], key=repr)


def test_filter_keeps_what_a_dataframe_filter_keeps_and_drops_records_whose_test_raises(
    glue_context: GlueContext, statistics: DataFrame
) -> None:
    kept = Filter.apply(frame=frame(glue_context, statistics), f=lambda r: r["likes"] > 10_000).toDF()
    assert rows(kept) == rows(statistics.filter(F.col("likes") > 10_000))
    assert 0 < kept.count() < statistics.count()

    df = glue_context.spark_session.createDataFrame([(1, "a"), (2, None)], "n int, s string")
    survivors = Filter.apply(frame=frame(glue_context, df), f=lambda r: r["s"] + "!" == "a!").toDF()
    assert rows(survivors) == [(1, "a")]  # None + "!" raises TypeError: the record is dropped, as Glue does
    with_missing = Filter.apply(frame=frame(glue_context, df), f=lambda r: r["missing"] == 1).toDF()
    assert with_missing.count() == 0  # KeyError drops the record, as Glue does


def test_select_rename_resolve_and_drop_null_fields_match_dataframe_operations(
    glue_context: GlueContext, statistics: DataFrame
) -> None:
    source = frame(glue_context, statistics.withColumn("nothing", F.lit(None).cast("string")))
    selected = SelectFields.apply(frame=source, paths=["video_id", "views", "nothing"]).toDF()
    assert rows(selected) == rows(statistics.select("video_id", "views", F.lit(None).cast("string")))
    renamed = RenameField.apply(frame=source, old_name="views", new_name="view_count").toDF()
    assert "views" not in renamed.columns and rows(renamed.select("view_count")) == rows(
        statistics.select("views")
    )
    resolved = ResolveChoice.apply(
        frame=source, specs=[("views", "cast:double"), ("likes", "make_cols")]
    ).toDF()
    assert dict(resolved.dtypes)["views"] == "double" and dict(resolved.dtypes)["likes"] == "int"
    assert rows(resolved.select("views")) == rows(statistics.select(F.col("views").cast("double")))
    dropped = DropNullFields.apply(frame=source).toDF()
    assert dropped.columns == statistics.columns  # only the all-NULL field went
    with pytest.raises(NotCoveredError, match="resolveChoice action 'explode'"):
        ResolveChoice.apply(frame=source, specs=[("views", "explode")])


def test_nested_paths_rename_within_a_struct_and_select_a_leaf(glue_context: GlueContext) -> None:
    df = glue_context.spark_session.createDataFrame(
        [(1, (2, "x"), 3)], "id int, s struct<a:int,b:string>, `dotted.name` int"
    )
    source = frame(glue_context, df)
    renamed = RenameField.apply(frame=source, old_name="s.a", new_name="s.z").toDF()
    assert renamed.schema["s"].dataType.simpleString() == "struct<b:string,z:int>"
    picked = SelectFields.apply(frame=source, paths=["s.b", "`dotted.name`"]).toDF()
    assert rows(picked) == [(("x",), 3)]


def test_join_is_an_inner_equi_join_with_both_frames_fields(
    glue_context: GlueContext, statistics: DataFrame
) -> None:
    spark = glue_context.spark_session
    names = spark.createDataFrame(
        [(24, "Entertainment"), (10, "Music"), (999, "none")], "category_id int, name string"
    )
    joined = Join.apply(
        frame(glue_context, statistics), frame(glue_context, names), "category_id", "category_id"
    ).toDF()
    plain = statistics.join(names, "category_id", "inner")
    assert joined.count() == plain.count() > 0
    assert sorted(joined.columns) == sorted(plain.columns)
    assert rows(joined.select("video_id", "trending_date", "name")) == rows(
        plain.select("video_id", "trending_date", "name")
    )
    clash = spark.createDataFrame([(24, "t")], "category_id int, title string")
    with pytest.raises(ValueError, match=r"both frames have fields \['title'\]"):
        Join.apply(frame(glue_context, statistics), frame(glue_context, clash), "category_id", "category_id")


def test_relationalize_flattens_structs_and_moves_arrays_to_their_own_frames(
    glue_context: GlueContext, data_dir: Path
) -> None:
    import json

    path = data_dir / "raw_statistics_reference_data" / "GB_category_id.json"
    document = json.loads(path.read_text())
    spark = glue_context.spark_session
    df = spark.read.option("multiLine", True).json(str(path))
    tables = Relationalize.apply(frame=frame(glue_context, df), staging_path="unused", name="root")
    assert tables.keys() == ["root", "root_items"]
    root, items = tables["root"].toDF(), tables["root_items"].toDF()
    assert sorted(root.columns) == ["etag", "items", "kind"]
    assert root.collect()[0]["items"] == 1
    assert {"id", "index", "items.val.id", "items.val.snippet.title"} <= set(items.columns)
    got = rows(items.select("index", "`items.val.id`", "`items.val.snippet.title`"))
    expected = sorted(
        ((i, item["id"], item["snippet"]["title"]) for i, item in enumerate(document["items"])), key=repr
    )
    assert got == expected and len(got) == 31
    assert {r["id"] for r in items.select("id").collect()} == {1}


def test_get_resolved_options_like_glue() -> None:
    argv = ["script.py", "--JOB_NAME", "j", "--TempDir", "s3://t/", "--region", "us", "--other", "x"]
    args = getResolvedOptions(argv, ["JOB_NAME", "region"])
    assert (args["JOB_NAME"], args["region"], args["TempDir"], args["RedshiftTempDir"]) == (
        "j",
        "us",
        "s3://t/",
        "s3://t/",
    )
    assert args["job_bookmark_option"] == "job-bookmark-disable" and "other" not in args
    with pytest.raises(GlueArgumentError, match="the following arguments are required: --missing"):
        getResolvedOptions(argv, ["missing"])


def test_what_is_not_covered_is_named(glue_context: GlueContext) -> None:
    source = frame(glue_context, glue_context.spark_session.createDataFrame([(1,)], "n int"))
    with pytest.raises(NotCoveredError, match=r"^DynamicFrame\.spigot is not covered"):
        source.spigot("s3://x/")
    with pytest.raises(NotCoveredError, match="connection_type='dynamodb'"):
        glue_context.create_dynamic_frame.from_options("dynamodb", {})
    with pytest.raises(NotCoveredError, match=r"^GlueContext\.purge_table"):
        glue_context.purge_table("db", "t")


def test_the_library_and_the_executor_name_the_same_bookmark_files() -> None:
    """The library runs as a top-level ``awsglue`` in the job and cannot import the runtime: its copy of the
    contract must match the executor's."""
    from localaws import _glue_etl
    from localaws._glue_etl.awsglue import _bookmarks
    from localaws._glue_jobs import bookmarks

    assert (_bookmarks.BOOKMARK_IN_ENV, _bookmarks.BOOKMARK_OUT_ENV) == (
        _glue_etl.BOOKMARK_IN_ENV,
        _glue_etl.BOOKMARK_OUT_ENV,
    )
    assert _bookmarks.ENABLE == bookmarks.ENABLE


def test_bookmarks_advance_only_when_enabled_reset_to_a_run_and_survive_a_snapshot(tmp_path: Path) -> None:
    import json
    import pickle

    from localaws._glue_jobs.bookmarks import BookmarkStore

    store = BookmarkStore()
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    first.write_text(json.dumps({"contexts": {"raw": {"s3://b/a.csv": "e1"}}}))
    second.write_text(json.dumps({"contexts": {"raw": {"s3://b/a.csv": "e1", "s3://b/b.csv": "e2"}}}))
    assert not store.record("job", "jr_0", "job-bookmark-pause", first)  # pause records nothing
    assert store.get("job") is None
    assert store.record("job", "jr_1", "job-bookmark-enable", first)
    assert store.record("job", "jr_2", "job-bookmark-enable", second)
    resumed = BookmarkStore()
    resumed.restore(pickle.loads(pickle.dumps(store.snapshot())))
    entry = resumed.get("job")
    assert entry is not None and entry.entry() == store.get("job").entry()  # type: ignore[union-attr]
    assert (entry.run_id, entry.previous_run_id, entry.run) == ("jr_2", "jr_1", 2)
    back = resumed.reset("job", "jr_2")  # forget what jr_2 and later runs read
    assert json.loads(back.entry()["JobBookmark"]) == {"raw": {"s3://b/a.csv": "e1"}}
    assert json.loads(resumed.reset("job").entry()["JobBookmark"]) == {}
