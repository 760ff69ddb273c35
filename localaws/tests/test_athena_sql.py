"""Athena SQL -> DuckDB planning (``localaws/_athena``: parse, dialect, results), without a server.

The translated SQL is executed in DuckDB against Arrow tables, so Trino semantics (integer division,
``date_diff`` counting whole units, ``_colN`` names) are checked by running them, and a report-style query
on the real US file is compared with the same computation in pandas.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from localaws._athena import dialect, errors, parse, results, views
from localaws._athena import statements as st
from localaws._athena.errors import AthenaError
from localaws._catalog import glue_to_arrow, glue_type


def run(query: str, tables: dict[str, pa.Table], database: str = "db") -> pa.Table:
    """Plan an Athena SELECT and run it in DuckDB the way the executor does."""
    statement = parse.parse_statement(query, database)
    assert isinstance(statement, st.Select)
    con = duckdb.connect()
    con.execute("SET integer_division = true")
    names = {}
    for ref in dialect.table_refs(statement.query, database):
        name = f"__t_{ref.database}_{ref.name}"
        con.register(name, tables[ref.name])
        names[ref.key] = name
    return con.sql(dialect.to_duckdb(statement.query, names, database)).to_arrow_table()


@pytest.fixture(scope="module")
def us_statistics(data_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(data_dir / "raw_statistics" / "region=us" / "USvideos.csv")
    return frame[["video_id", "trending_date", "category_id", "views", "likes", "publish_time"]]


# ---- classification ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kind", "target"),
    [
        pytest.param("SELECT 1", st.Select, None, id="select"),
        pytest.param("WITH c AS (SELECT 1 a) SELECT * FROM c", st.Select, None, id="select-with-cte"),
        pytest.param("DROP TABLE IF EXISTS r.t", st.DropTable, "r.t", id="drop-table"),
        pytest.param("DROP VIEW v", st.DropView, "db.v", id="drop-view-default-db"),
        pytest.param("MSCK REPAIR TABLE `r`.`t`", st.RepairTable, "r.t", id="msck"),
        pytest.param("SHOW PARTITIONS r.t", st.ShowPartitions, "r.t", id="show-partitions"),
        pytest.param("DESCRIBE r.t", st.Describe, "r.t", id="describe"),
        pytest.param('INSERT INTO "R"."T" SELECT 1', st.InsertInto, "r.t", id="insert-quoted-upper"),
        pytest.param("CREATE DATABASE IF NOT EXISTS x", st.CreateDatabase, None, id="create-database"),
        pytest.param("SHOW TABLES IN r 'top*'", st.ShowTables, None, id="show-tables"),
    ],
)
def test_statements_are_classified(query: str, kind: type, target: str | None) -> None:
    statement = parse.parse_statement(query, "db")
    assert isinstance(statement, kind)
    if target is not None:
        assert str(statement.target) == target  # type: ignore[union-attr]


def test_ctas_with_properties_keeps_what_duckdb_would_drop() -> None:
    statement = parse.parse_statement(
        "CREATE TABLE analytics.top WITH (format = 'PARQUET', "
        "external_location = 's3://b/reports/top/run=1/', partitioned_by = ARRAY['region'], "
        "write_compression = 'ZSTD') AS SELECT video_id, region FROM stats",
        "processed",
    )
    assert isinstance(statement, st.CreateTableAs)
    assert statement.target == st.TableName("analytics", "top", statement.target.line, statement.target.col)
    assert statement.options == st.CtasOptions(
        "PARQUET", "s3://b/reports/top/run=1/", ("region",), (), "ZSTD"
    )
    assert [r.key for r in dialect.table_refs(statement.query, "processed")] == [("processed", "stats")]


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        pytest.param("format='ORC'", "NOT_SUPPORTED", id="orc"),
        pytest.param("write_compression='BROTLI9'", "INVALID_TABLE_PROPERTY", id="bad-compression"),
        pytest.param("colour='blue'", "INVALID_TABLE_PROPERTY", id="unknown-property"),
    ],
)
def test_ctas_rejects_properties_it_cannot_honour(properties: str, code: str) -> None:
    with pytest.raises(AthenaError) as caught:
        parse.parse_statement(f"CREATE TABLE t WITH ({properties}) AS SELECT 1 a")
    assert caught.value.code == code


def test_view_keeps_its_original_sql_text() -> None:
    body = "SELECT region,\n       count(*) AS n\nFROM stats  -- per region\nGROUP BY region"
    statement = parse.parse_statement(f"CREATE OR REPLACE VIEW analytics.v AS {body};", "db")
    assert isinstance(statement, st.CreateView)
    assert statement.replace and statement.original_sql == body


def test_external_table_columns_partitions_and_location() -> None:
    statement = parse.parse_statement(
        "CREATE EXTERNAL TABLE IF NOT EXISTS r.stats (video_id string, views bigint, tags array<string>, "
        "price decimal(10,2)) PARTITIONED BY (region string) STORED AS PARQUET LOCATION 's3://b/stats/' "
        "TBLPROPERTIES ('parquet.compression'='SNAPPY')"
    )
    assert isinstance(statement, st.CreateExternalTable)
    assert [(c.name, c.type) for c in statement.columns] == [
        ("video_id", "string"),
        ("views", "bigint"),
        ("tags", "array<string>"),
        ("price", "decimal(10,2)"),
    ]
    assert [(c.name, c.type) for c in statement.partition_keys] == [("region", "string")]
    assert statement.location == "s3://b/stats/" and statement.if_not_exists
    assert dict(statement.table_properties) == {"parquet.compression": "SNAPPY"}


def test_alter_table_add_partitions_with_and_without_location() -> None:
    statement = parse.parse_statement(
        "ALTER TABLE r.t ADD IF NOT EXISTS PARTITION (region='us', day='2017-11-14') LOCATION 's3://b/x/' "
        "PARTITION (region = 'o''k', day = '1')"
    )
    assert isinstance(statement, st.AddPartitions)
    assert statement.if_not_exists
    assert statement.partitions == (
        ((("region", "us"), ("day", "2017-11-14")), "s3://b/x/"),
        ((("region", "o'k"), ("day", "1")), None),
    )


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        pytest.param("SELEC 1", "SYNTAX_ERROR", "line 1:", id="typo"),
        pytest.param("SELECT a FROM t WHERE", "SYNTAX_ERROR", "line 1:", id="dangling-where"),
        pytest.param("SELECT 1; SELECT 2", "INVALID_INPUT", "Only one sql statement is allowed", id="two"),
        pytest.param("   ", "INVALID_INPUT", "empty", id="empty"),
        pytest.param(
            "SELECT * FROM t WHERE a = ?", "INVALID_INPUT", "ExecutionParameters", id="unbound-param"
        ),
    ],
)
def test_bad_input_fails_like_athena(query: str, code: str, fragment: str) -> None:
    with pytest.raises(AthenaError) as caught:
        parse.parse_statement(query)
    assert caught.value.code == code
    assert fragment in str(caught.value) and str(caught.value).startswith(code)


def test_execution_parameters_are_bound_in_order() -> None:
    table = pa.table({"region": ["us", "gb", "us"], "views": [1, 2, 3]})
    statement = parse.parse_statement(
        "SELECT sum(views) s FROM t WHERE region = ? AND views > ?", "db", ["'us'", "1"]
    )
    assert isinstance(statement, st.Select)
    con = duckdb.connect()
    con.register("t_", table)
    assert con.sql(dialect.to_duckdb(statement.query, {("db", "t"): "t_"}, "db")).fetchall() == [(3,)]


def test_table_refs_skip_ctes_and_qualify_with_the_default_database() -> None:
    statement = parse.parse_statement(
        "WITH daily AS (SELECT * FROM stats) SELECT * FROM daily JOIN other.cats c ON true "
        "JOIN awsdatacatalog.x.y ON true",
        "proc",
    )
    assert isinstance(statement, st.Select)
    assert [r.key for r in dialect.table_refs(statement.query, "proc")] == [
        ("proc", "stats"),
        ("other", "cats"),
        ("x", "y"),
    ]


# ---- translation runs with Trino semantics -------------------------------------------------------


def test_trino_semantics_survive_translation() -> None:
    events = pa.table(
        {
            "a": pa.array([datetime(2020, 1, 1, 23, 0)], pa.timestamp("us")),
            "b": pa.array([datetime(2020, 1, 3, 1, 0)], pa.timestamp("us")),
            "n": pa.array([7], pa.int64()),
        }
    )
    result = run(
        "SELECT n / 2 AS half, n / 2.0 AS exact, date_diff('day', a, b) AS days, "
        "format_datetime(a, 'yyyy-MM-dd HH:mm') AS formatted, count(*), T.N AS Upper "
        "FROM db.events T GROUP BY n, a, b",
        {"events": events},
    )
    assert result.column_names == ["half", "exact", "days", "formatted", "_col4", "upper"]
    row = result.to_pylist()[0]
    # 7/2 is 3 in Trino; 23:00 -> 01:00 two days later is one whole day (DuckDB's date_diff would say 2).
    assert row == {
        "half": 3,
        "exact": 3.5,
        "days": 1,
        "formatted": "2020-01-01 23:00",
        "_col4": 1,
        "upper": 7,
    }


#: A table whose ``x`` is all NULL and ``n`` has values. Expected values are Trino's documented results
#: ("Aggregate functions": all but count, count_if, max_by, min_by and approx_distinct ignore NULL and
#: return NULL for no rows or all-NULL input; "Mathematical operators": integer division truncates, % takes
#: the dividend's sign; "Comparison functions": greatest/least are NULL if any argument is; "String
#: functions": concat is NULL if any argument is, like ||; "Regular expression functions": regexp_extract is
#: NULL when nothing matches).
_NULLS = pa.table({"x": pa.array([None, None], pa.int64()), "n": pa.array([7, -7], pa.int64())})


@pytest.mark.parametrize(
    ("expression", "source", "expected"),
    [
        pytest.param("count_if(x > 0)", "db.nulls", 0, id="count_if-all-null-is-0"),
        pytest.param("count_if(n > 0)", "db.nulls WHERE false", 0, id="count_if-no-rows-is-0"),
        pytest.param("count_if(n > 0)", "db.nulls", 1, id="count_if-counts-true"),
        pytest.param("count(x)", "db.nulls", 0, id="count-all-null-is-0"),
        pytest.param("count(*)", "db.nulls WHERE false", 0, id="count-star-no-rows-is-0"),
        pytest.param("sum(x)", "db.nulls", None, id="sum-all-null-is-null"),
        pytest.param("sum(n)", "db.nulls WHERE false", None, id="sum-no-rows-is-null"),
        pytest.param("avg(n)", "db.nulls WHERE false", None, id="avg-no-rows-is-null"),
        pytest.param("avg(n)", "db.nulls", 0.0, id="avg-of-bigints-is-double"),
        pytest.param("min(x)", "db.nulls", None, id="min-all-null-is-null"),
        pytest.param("max(n)", "db.nulls WHERE false", None, id="max-no-rows-is-null"),
        pytest.param("approx_distinct(x)", "db.nulls", 0, id="approx_distinct-all-null-is-0"),
        pytest.param("array_agg(n)", "db.nulls WHERE false", None, id="array_agg-no-rows-is-null"),
        pytest.param("bool_and(n > 0)", "db.nulls WHERE false", None, id="bool_and-no-rows-is-null"),
        pytest.param("stddev(n)", "db.nulls WHERE n > 0", None, id="stddev-one-value-is-null"),
        pytest.param("variance(n)", "db.nulls WHERE n > 0", None, id="variance-one-value-is-null"),
        pytest.param("max_by(n, x)", "db.nulls", None, id="max_by-all-null-keys-is-null"),
        pytest.param("min(n / 2)", "db.nulls", -3, id="integer-division-truncates"),
        pytest.param("min(n % 2)", "db.nulls", -1, id="modulus-takes-dividend-sign"),
        pytest.param("max(greatest(n, x))", "db.nulls", None, id="greatest-with-null-is-null"),
        pytest.param("min(least(n, 1))", "db.nulls", -7, id="least-without-null"),
        pytest.param("max(concat('a', CAST(x AS varchar)))", "db.nulls", None, id="concat-with-null-is-null"),
        pytest.param("max(regexp_extract('abc', 'x'))", "db.nulls", None, id="regexp_extract-no-match"),
        pytest.param("max(regexp_extract('abc', 'a(b)', 1))", "db.nulls", "b", id="regexp_extract-group"),
        pytest.param("max(regexp_extract('abc', 'b*'))", "db.nulls", "", id="regexp_extract-empty-match"),
    ],
)
def test_null_and_aggregate_semantics_are_trinos(expression: str, source: str, expected: object) -> None:
    result = run(f"SELECT {expression} AS v FROM {source}", {"nulls": _NULLS})
    assert result.column("v").to_pylist() == [expected]


def test_from_utf8_replaces_invalid_utf8_instead_of_failing() -> None:
    """Trino's from_utf8 never fails on invalid UTF-8 (it replaces it), so the round trip through to_utf8
    differs from the value exactly when the value is not valid UTF-8; DuckDB's decode would raise instead."""
    text = pa.array([b"ok", "Vid\u00e9os".encode(), "Vid\u00e9os".encode("latin-1"), None], pa.binary())
    table = pa.table({"s": text.view(pa.string())})
    result = run(
        "SELECT count_if(from_utf8(to_utf8(s)) <> s) AS invalid, "
        "max(from_utf8(to_utf8(s))) AS valid_kept FROM db.t WHERE s <> 'ok' OR s IS NULL",
        {"t": table},
    )
    assert result.to_pylist() == [{"invalid": 1, "valid_kept": "Vid\u00e9os"}]


def test_report_query_on_real_us_file_matches_pandas(us_statistics: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(us_statistics, preserve_index=False)
    result = run(
        """
        WITH ranked AS (
          SELECT category_id, video_id, views,
                 row_number() OVER (PARTITION BY category_id ORDER BY views DESC, video_id) AS rn
          FROM stats
          WHERE date_parse(trending_date, '%y.%d.%m') >= DATE '2017-11-20'
        )
        SELECT category_id, count(*) AS videos, sum(views) AS total_views,
               max_by(video_id, views) AS top_video, count_if(rn = 1) AS firsts
        FROM ranked GROUP BY category_id ORDER BY category_id
        """,
        {"stats": table},
    ).to_pandas()

    frame = us_statistics.assign(day=pd.to_datetime(us_statistics["trending_date"], format="%y.%d.%m"))
    frame = frame[frame["day"] >= "2017-11-20"]
    expected = (
        frame.groupby("category_id")
        .agg(videos=("video_id", "size"), total_views=("views", "sum"))
        .reset_index()
        .sort_values("category_id", ignore_index=True)
    )
    top = frame.sort_values(["views", "video_id"], ascending=[False, True]).groupby("category_id").head(1)
    expected["top_video"] = expected["category_id"].map(top.set_index("category_id")["video_id"])
    assert len(result) == len(expected) > 5
    assert result["category_id"].tolist() == expected["category_id"].tolist()
    assert result["videos"].tolist() == expected["videos"].tolist()
    assert result["total_views"].astype("int64").tolist() == expected["total_views"].tolist()
    assert result["top_video"].tolist() == expected["top_video"].tolist()
    assert set(result["firsts"]) == {1}


def test_joda_patterns_become_strftime() -> None:
    assert dialect.joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSS") == "%Y-%m-%dT%H:%M:%S.%g"
    assert dialect.joda_to_strftime("EEE, d MMM yy") == "%a, %-d %b %y"


# ---- types and values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "glue_column_type",
    [
        pytest.param("string", id="string"),
        pytest.param("bigint", id="bigint"),
        pytest.param("int", id="int"),
        pytest.param("double", id="double"),
        pytest.param("boolean", id="boolean"),
        pytest.param("date", id="date"),
        pytest.param("timestamp", id="timestamp"),
        pytest.param("decimal(10,2)", id="decimal"),
        pytest.param("array<string>", id="array"),
        pytest.param("struct<a:int,b:array<bigint>>", id="struct"),
        pytest.param("map<string,double>", id="map"),
    ],
)
def test_glue_types_round_trip_through_arrow(glue_column_type: str) -> None:
    assert glue_type(glue_to_arrow(glue_column_type)) == glue_column_type


@pytest.mark.parametrize(
    ("arrow_type", "athena"),
    [
        pytest.param(pa.string(), "varchar", id="varchar"),
        pytest.param(pa.int64(), "bigint", id="bigint"),
        pytest.param(pa.int32(), "integer", id="integer"),
        pytest.param(pa.float64(), "double", id="double"),
        pytest.param(pa.bool_(), "boolean", id="boolean"),
        pytest.param(pa.date32(), "date", id="date"),
        pytest.param(pa.timestamp("us"), "timestamp", id="timestamp"),
        pytest.param(pa.list_(pa.string()), "array", id="array"),
        pytest.param(pa.decimal128(12, 3), "decimal", id="decimal"),
    ],
)
def test_column_info_uses_athena_type_names(arrow_type: pa.DataType, athena: str) -> None:
    info = results.column_info("c", arrow_type)
    assert info["Type"] == athena and info["Name"] == info["Label"] == "c"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(1.5, "1.5", id="plain"),
        pytest.param(100.0, "100.0", id="integral"),
        pytest.param(1e7, "1.0E7", id="ten-million"),
        pytest.param(12345678.9, "1.23456789E7", id="large"),
        pytest.param(0.0001, "1.0E-4", id="small"),
        pytest.param(-0.5, "-0.5", id="negative"),
        pytest.param(float("nan"), "NaN", id="nan"),
    ],
)
def test_doubles_render_like_java(value: float, text: str) -> None:
    assert results.java_double(value) == text


def test_values_render_like_athena() -> None:
    assert results.render_value(None, pa.string()) is None
    assert results.render_value(True, pa.bool_()) == "true"
    assert results.render_value(date(2017, 11, 14), pa.date32()) == "2017-11-14"
    assert (
        results.render_value(datetime(2017, 11, 14, 1, 2, 3, 456789), pa.timestamp("us"))
        == "2017-11-14 01:02:03.456"
    )
    utc = datetime(2017, 11, 14, tzinfo=UTC)
    assert results.render_value(utc, pa.timestamp("us", "UTC")) == "2017-11-14 00:00:00.000 UTC"
    assert results.render_value(["a", None], pa.list_(pa.string())) == "[a, null]"
    assert results.render_value(Decimal("1.50"), pa.decimal128(5, 2)) == "1.50"
    assert results.csv_line(["a", None, 'say "hi"']) == '"a",,"say ""hi"""\n'


def test_presto_view_encoding_round_trips() -> None:
    view = views.ViewDefinition("SELECT region FROM stats", "analytics", (("region", "varchar"),))
    text = views.encode_presto_view(view)
    assert text.startswith("/* Presto View: ") and text.endswith(" */")
    assert views.decode_presto_view(text, "other") == view
    assert views.decode_presto_view("SELECT 1", "db") == views.ViewDefinition("SELECT 1", "db")


def test_duckdb_column_errors_become_column_not_found() -> None:
    original = "SELECT region,\n  viewz FROM stats"
    con = duckdb.connect()
    con.register("stats", pa.table({"region": ["us"], "views": [1]}))
    with pytest.raises(duckdb.Error) as caught:
        con.sql(original)
    error = errors.athena_error_from_duckdb(str(caught.value), original)
    assert error.code == "COLUMN_NOT_FOUND"
    assert str(error).startswith("COLUMN_NOT_FOUND: line 2:3: Column 'viewz' cannot be resolved")
