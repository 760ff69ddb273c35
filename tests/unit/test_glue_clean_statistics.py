"""clean_statistics: pure transforms on tiny frames, and the whole job on every real CSV.

Expected values are computed here with the ``csv`` module straight from the files, never copied from the
job's output.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from infra.local.runtime import GLUE_SOURCE

pytestmark = pytest.mark.spark


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"glue_{name}", GLUE_SOURCE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cs = _load("clean_statistics")

FORMATS = {
    "datasnaek": "raw_statistics",
    "rsrishav": "rsrishav_trending/raw_statistics",
    "altered": "altered_copies",
}


# ---- independent reading of the real files ------------------------------------------------------


def records(path: Path) -> list[list[str]]:
    """Data records as Python's lenient csv module reads them (header dropped)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[1:]


def last_record_cut(path: Path, rows: list[list[str]]) -> bool:
    """rsrishav files are csv QUOTE_ALL + LF: a complete last record re-writes to the file's tail."""
    if "rsrishav" not in str(path):
        return False
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(rows[-1])
    text = path.read_text(encoding="utf-8")
    return not (text.endswith(buffer.getvalue()) or text.endswith(buffer.getvalue()[:-1]))


def expected_counts(folder: Path) -> dict[str, dict[str, int]]:
    """read / rejected (cut last records) / written (distinct keys) / duplicates per region folder."""
    out: dict[str, dict[str, int]] = {}
    for path in sorted(folder.rglob("*.csv")):
        region = path.parent.name.split("=")[1].lower()
        rows = records(path)
        cut = last_record_cut(path, rows)
        good = rows[:-1] if cut else rows
        header = path.open(encoding="utf-8").readline()
        date_at = header.strip().split(",").index("trending_date")
        keys = {(r[0], r[date_at]) for r in good}
        entry = out.setdefault(region, {"read": 0, "rejected": 0, "written": 0, "duplicates": 0})
        entry["read"] += len(rows)
        entry["rejected"] += int(cut)
        entry["written"] += len(keys)
        entry["duplicates"] += len(good) - len(keys)
    return out


# ---- whole job on the real data (one run per format, shared by the tests) ------------------------


@pytest.fixture(scope="module")
def runs(spark: Any, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, folder in FORMATS.items():
        base = tmp_path_factory.mktemp(name)
        paths = {k: str(base / k) + "/" for k in ("target", "quarantine", "metrics")}
        try:
            result = cs.run(
                spark,
                str(data_dir / folder),
                paths["target"],
                paths["quarantine"],
                paths["metrics"],
                "test_run",
                0.01,
            )
            error = None
        except cs.RejectThresholdExceeded as exc:
            result, error = exc.result, exc
        results[name] = {"result": result, "error": error, "base": base, **paths}
    return results


def output(spark: Any, run: dict[str, Any]) -> Any:
    return spark.read.parquet(run["target"])


@pytest.mark.parametrize(
    "fmt", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_counts_per_region_match_independent_parse(runs: dict, spark: Any, data_dir: Path, fmt: str) -> None:
    run = runs[fmt]
    assert run["error"] is None
    expected = expected_counts(data_dir / FORMATS[fmt])
    got = {r: c.as_dict() for r, c in run["result"].regions.items()}
    assert got == expected
    written = {r["region"]: r["count"] for r in output(spark, run).groupBy("region").count().collect()}
    assert written == {r: c["written"] for r, c in expected.items()}
    for counts in got.values():
        assert counts["read"] == counts["written"] + counts["duplicates"] + counts["rejected"]


@pytest.mark.parametrize(
    "fmt", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_metrics_json_written(runs: dict, fmt: str) -> None:
    run = runs[fmt]
    metrics = json.loads((Path(run["metrics"]) / "run_id=test_run" / "metrics.json").read_text())
    assert metrics["read"] == metrics["written"] + metrics["duplicates"] + metrics["rejected"]
    assert metrics["regions"] == {r: c.as_dict() for r, c in run["result"].regions.items()}


def test_output_schema(runs: dict, spark: Any) -> None:
    types = dict(output(spark, runs["datasnaek"]).dtypes)
    assert types == {
        "video_id": "string",
        "trending_date": "date",
        "title": "string",
        "channel_id": "string",
        "channel_title": "string",
        "category_id": "bigint",
        "publish_time": "timestamp",
        "tags": "array<string>",
        "views": "bigint",
        "likes": "bigint",
        "dislikes": "bigint",
        "comment_count": "bigint",
        "thumbnail_link": "string",
        "comments_disabled": "boolean",
        "ratings_disabled": "boolean",
        "video_error_or_removed": "boolean",
        "description": "string",
        "source_file": "string",
        "region": "string",
    }
    assert types == dict(output(spark, runs["rsrishav"]).dtypes)


def test_partitions_are_lower_case_region_folders(runs: dict) -> None:
    folders = sorted(p.name for p in Path(runs["rsrishav"]["target"]).iterdir() if p.is_dir())
    assert folders == [
        f"region={r}" for r in ("br", "ca", "de", "fr", "gb", "in", "jp", "kr", "mx", "ru", "us")
    ]
    assert all(
        f.suffix == ".parquet" and ".snappy." in f.name
        for f in Path(runs["rsrishav"]["target"]).rglob("part-*")
    )


def test_kaggle_trending_date_is_yy_dd_mm(runs: dict, spark: Any, data_dir: Path) -> None:
    dates = Counter(r[1] for r in records(data_dir / "raw_statistics/region=us/USvideos.csv"))
    expected = Counter({dt.datetime.strptime(d, "%y.%d.%m").date(): n for d, n in dates.items()})
    rows = output(spark, runs["datasnaek"]).where("region = 'us'").groupBy("trending_date").count().collect()
    assert Counter({r["trending_date"]: r["count"] for r in rows}) == expected


def test_rsrishav_maps_onto_the_same_columns(runs: dict, spark: Any, data_dir: Path) -> None:
    path = data_dir / "rsrishav_trending/raw_statistics/region=gb/GB_youtube_trending_data.csv"
    first = records(path)[0]
    row = output(spark, runs["rsrishav"]).where(f"region = 'gb' and video_id = '{first[0]}'").collect()[0]
    assert row["title"] == first[1]
    assert row["publish_time"] == dt.datetime.strptime(first[2], "%Y-%m-%dT%H:%M:%SZ")
    assert (row["channel_id"], row["channel_title"], row["category_id"]) == (
        first[3],
        first[4],
        int(first[5]),
    )
    assert row["trending_date"] == dt.date.fromisoformat(first[6][:10])
    assert (row["views"], row["likes"], row["dislikes"], row["comment_count"]) == tuple(map(int, first[8:12]))
    assert row["comments_disabled"] is (first[13] == "True") and row["video_error_or_removed"] is None


def test_tags_split_both_formats_and_none_is_empty(runs: dict, spark: Any, data_dir: Path) -> None:
    rows = records(data_dir / "raw_statistics/region=us/USvideos.csv")
    untagged = sum(r[6] == "[none]" for r in rows)
    out = output(spark, runs["datasnaek"]).where("region = 'us'")
    assert out.where("size(tags) = 0").count() == untagged
    # The raw text of a multi-tag record, read byte-exact (no csv module leniency), to split by hand.
    raw = (data_dir / "raw_statistics/region=us/USvideos.csv").read_bytes().decode("utf-8").split("\r\n")[2]
    video_id = raw.split(",")[0]
    expected_tags = [t.strip('"') for t in raw[raw.index('"last week') : raw.index(",2418783")].split("|")]
    row = out.where(f"video_id = '{video_id}'").orderBy("trending_date").first()
    assert row["tags"] == expected_tags and len(expected_tags) > 1
    rs = output(spark, runs["rsrishav"]).where(
        "array_contains(tags, '[None]') or array_contains(tags, '[none]')"
    )
    assert rs.count() == 0


def test_bare_cr_and_literal_backslash_n_become_lf(runs: dict, spark: Any, data_dir: Path) -> None:
    rows = records(data_dir / "raw_statistics/region=us/USvideos.csv")
    multi_line = sum(("\\n" in r[15]) or ("\r" in r[15]) or ("\n" in r[15]) for r in rows)
    out = output(spark, runs["datasnaek"]).where("region = 'us'")
    description = out["description"]
    assert out.where(description.contains("\r")).count() == 0
    assert out.where(description.contains("\\n")).count() == 0
    assert out.where(description.contains("\n")).count() == multi_line


def test_empty_descriptions_stay_empty_strings(runs: dict, spark: Any, data_dir: Path) -> None:
    rows = records(data_dir / "raw_statistics/region=us/USvideos.csv")
    out = output(spark, runs["datasnaek"]).where("region = 'us'")
    assert out.where("description = ''").count() == sum(r[15] == "" for r in rows)


@pytest.mark.parametrize(
    "char",
    [
        pytest.param("\u200b", id="zero-width-space"),
        pytest.param("\u200d", id="zero-width-joiner"),
        pytest.param("\ufffd", id="replacement-char"),
    ],
)
def test_special_characters_survive(runs: dict, spark: Any, data_dir: Path, char: str) -> None:
    texts = [
        f
        for p in (data_dir / "raw_statistics").rglob("*.csv")
        for r in records(p)
        for f in (r[2], r[3], r[15])
    ]
    out = output(spark, runs["datasnaek"]).select("title", "channel_title", "description").collect()
    assert sum(t.count(char) for t in texts) > 0
    assert sum((v or "").count(char) for row in out for v in row) == sum(t.count(char) for t in texts)


def test_booleans_true_false_both_formats(runs: dict, spark: Any, data_dir: Path) -> None:
    rows = records(data_dir / "raw_statistics/region=us/USvideos.csv")
    out = output(spark, runs["datasnaek"]).where("region = 'us'")
    assert out.where("video_error_or_removed").count() == sum(r[14] == "True" for r in rows)
    rs_rows = records(data_dir / "rsrishav_trending/raw_statistics/region=us/US_youtube_trending_data.csv")[
        :-1
    ]
    rs = output(spark, runs["rsrishav"]).where("region = 'us'")
    assert rs.where("comments_disabled").count() == sum(r[13] == "True" for r in rs_rows)


def test_truncated_last_records_are_quarantined(runs: dict, spark: Any) -> None:
    run = runs["rsrishav"]
    quarantined = spark.read.json(run["quarantine"] + "run_id=test_run/")
    reasons = Counter(r["reject_reason"] for r in quarantined.collect())
    assert reasons == Counter({"truncated record (file ends inside a quoted field)": 11})
    assert sorted(r["region"] for r in quarantined.collect()) == sorted(run["result"].regions)


def test_duplicates_keep_one_row_per_key(runs: dict, spark: Any) -> None:
    out = output(spark, runs["rsrishav"])
    assert out.groupBy("region", "video_id", "trending_date").count().where("count > 1").count() == 0


def test_wrong_format_copy_fails_and_quarantines(runs: dict, spark: Any, data_dir: Path) -> None:
    run = runs["altered"]
    assert isinstance(run["error"], cs.RejectThresholdExceeded)
    assert "in: 966/966" in str(run["error"])
    assert not Path(run["target"]).exists()
    quarantined = spark.read.json(run["quarantine"] + "run_id=test_run/")
    rows = records(data_dir / "altered_copies/region=in/INvideos.csv")
    assert quarantined.count() == len(rows)
    mangled = sum(r[0] == "#NAME?" for r in rows)
    assert quarantined.where("reject_reason = 'invalid video_id'").count() == mangled > 0
    metrics = json.loads((Path(run["metrics"]) / "run_id=test_run" / "metrics.json").read_text())
    assert metrics["failed_regions"] == ["in"] and metrics["written"] == 0


# ---- idempotency, dynamic partition overwrite ----------------------------------------------------


def test_rerun_replaces_only_regions_read(spark: Any, data_dir: Path, tmp_path: Path) -> None:
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    cs.run(spark, str(data_dir / "raw_statistics"), target, q, m, "one")
    first = spark.read.parquet(target).count()
    only_gb = tmp_path / "src"
    (only_gb / "region=gb").mkdir(parents=True)
    source = data_dir / "raw_statistics/region=gb/GBvideos.csv"
    (only_gb / "region=gb" / source.name).write_bytes(source.read_bytes())
    cs.run(spark, str(only_gb), target, q, m, "two")
    cs.run(spark, str(only_gb), target, q, m, "three")
    again = spark.read.parquet(target)
    assert again.count() == first
    assert again.where("region = 'gb'").count() == len(records(source))


# ---- pure functions on tiny frames ---------------------------------------------------------------


def test_detect_format() -> None:
    assert cs.detect_format("\ufeff" + cs.DATASNAEK_HEADER + "\r\n") == "datasnaek"
    assert cs.detect_format(cs.RSRISHAV_HEADER) == "rsrishav"
    assert cs.detect_format("a,b,c") == cs.UNKNOWN_FORMAT


def test_region_of() -> None:
    assert cs.region_of("s3://b/youtube/raw_statistics/region=US/x.csv") == "us"
    assert cs.region_of("s3://b/youtube/raw_statistics/x.csv") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"a b"|"c"', ["a b", "c"], id="kaggle-quoted-each"),
        pytest.param('a b|"c"', ["a b", "c"], id="lenient-first-unquoted"),
        pytest.param("a|b", ["a", "b"], id="rsrishav"),
        pytest.param("[none]", [], id="none"),
        pytest.param("[None]", [], id="None"),
        pytest.param(None, [], id="null"),
    ],
)
def test_parse_tags(spark: Any, text: str | None, expected: list[str]) -> None:
    df = spark.createDataFrame([(text,)], "t string")
    assert df.select(cs.parse_tags(df.t).alias("x")).first()["x"] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("17.14.11", dt.date(2017, 11, 14), id="yy.dd.mm"),
        pytest.param("18.01.02", dt.date(2018, 2, 1), id="yy.dd.mm-early-year"),
        pytest.param("2020-08-12T00:00:00Z", dt.date(2020, 8, 12), id="iso"),
        pytest.param("17.32.13", None, id="impossible-day"),
        pytest.param("yesterday", None, id="text"),
    ],
)
def test_parse_trending_date(spark: Any, text: str, expected: dt.date | None) -> None:
    df = spark.createDataFrame([(text,)], "t string")
    assert df.select(cs.parse_trending_date(df.t).alias("x")).first()["x"] == expected


def _csv(tmp_path: Path, body: str, region: str = "zz", name: str = "f.csv") -> str:
    folder = tmp_path / "src" / f"region={region}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(body.encode("utf-8"))
    return str(tmp_path / "src")


GOOD = (
    'abcdefghijk,17.14.11,"T","C",24,2017-11-13T17:13:01.000Z,"x"|"y",10,2,1,3,'
    'https://i.ytimg.com/vi/abcdefghijk/default.jpg,False,False,False,"line one\\nline two"'
)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param(GOOD.replace(",10,2,", ",-10,2,"), "negative views", id="negative-count"),
        pytest.param(GOOD.replace(",10,2,", ",ten,2,"), "non-numeric views", id="non-numeric-count"),
        pytest.param(GOOD.replace("17.14.11", "17.31.02"), "unparseable trending_date", id="bad-date"),
        pytest.param(GOOD.replace(",24,", ",x,"), "invalid category_id", id="bad-category"),
        pytest.param(
            GOOD.replace(",False,False,False,", ",FALSE,False,False,"),
            "invalid boolean comments_disabled",
            id="spreadsheet-boolean",
        ),
        pytest.param(GOOD.rsplit(",", 2)[0], "wrong column count", id="too-few-columns"),
        pytest.param(GOOD + ",extra", "wrong column count", id="too-many-columns"),
        pytest.param(GOOD.replace("abcdefghijk,", "#NAME?,"), "invalid video_id", id="mangled-id"),
    ],
)
def test_bad_rows_are_quarantined_with_reason(spark: Any, tmp_path: Path, row: str, reason: str) -> None:
    source = _csv(tmp_path, cs.DATASNAEK_HEADER + "\r\n" + GOOD + "\r\n" + row + "\r\n")
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    result = cs.run(spark, source, target, q, m, "r", reject_threshold=0.5)
    assert result.regions["zz"].as_dict() == {"read": 2, "written": 1, "duplicates": 0, "rejected": 1}
    rejected = spark.read.json(q + "run_id=r/").collect()
    assert [r["reject_reason"] for r in rejected] == [reason]
    assert rejected[0]["source_file"].endswith("region=zz/f.csv")
    good = spark.read.parquet(target).first()
    assert good["description"] == "line one\nline two" and good["tags"] == ["x", "y"]


def test_threshold_fails_before_writing(spark: Any, tmp_path: Path) -> None:
    source = _csv(tmp_path, cs.DATASNAEK_HEADER + "\n" + GOOD + "\n" + GOOD.replace(",10,", ",-1,") + "\n")
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    with pytest.raises(cs.RejectThresholdExceeded, match=r"zz: 1/2 rows"):
        cs.run(spark, source, target, q, m, "r", reject_threshold=0.01)
    assert not Path(target).exists()


def test_failed_run_keeps_the_regions_already_there(spark: Any, tmp_path: Path) -> None:
    """The output waits in a staging folder until the counts pass: a failed check changes nothing."""
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    cs.run(spark, _csv(tmp_path, cs.DATASNAEK_HEADER + "\n" + GOOD + "\n"), target, q, m, "good")
    before = {p.relative_to(target): p.read_bytes() for p in Path(target).rglob("*") if p.is_file()}
    bad = GOOD.replace(",10,", ",-1,")
    source = _csv(tmp_path, cs.DATASNAEK_HEADER + "\n" + GOOD.replace("17.14.11", "17.15.11") + "\n" + bad)
    with pytest.raises(cs.RejectThresholdExceeded, match=r"zz: 1/2 rows"):
        cs.run(spark, source, target, q, m, "bad", reject_threshold=0.01)
    after = {p.relative_to(target): p.read_bytes() for p in Path(target).rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in Path(target).iterdir()] == ["region=zz"]  # no staging folder left behind


def test_publish_time_is_utc_whatever_the_session_zone(spark: Any, tmp_path: Path) -> None:
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        cs.run(spark, _csv(tmp_path, cs.DATASNAEK_HEADER + "\n" + GOOD + "\n"), target, q, m, "r")
        row = spark.read.parquet(target).selectExpr("unix_micros(publish_time) AS micros").first()
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    expected = dt.datetime(2017, 11, 13, 17, 13, 1, tzinfo=dt.UTC)
    assert row["micros"] == int(expected.timestamp()) * 1_000_000


def test_unknown_header_is_rejected(spark: Any, tmp_path: Path) -> None:
    source = _csv(tmp_path, "id,date\n1,2\n")
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    with pytest.raises(cs.RejectThresholdExceeded):
        cs.run(spark, source, target, q, m, "r")
    reasons = {r["reject_reason"] for r in spark.read.json(q + "run_id=r/").collect()}
    assert reasons == {"unrecognised header (not a known statistics format)"}


def test_duplicate_keeps_last_seen(spark: Any, tmp_path: Path) -> None:
    later = GOOD.replace(",10,2,", ",99,2,")
    source = _csv(tmp_path, cs.DATASNAEK_HEADER + "\n" + GOOD + "\n" + later)
    target, q, m = (str(tmp_path / k) + "/" for k in ("t", "q", "m"))
    result = cs.run(spark, source, target, q, m, "r")
    assert result.regions["zz"].as_dict() == {"read": 2, "written": 1, "duplicates": 1, "rejected": 0}
    assert spark.read.parquet(target).first()["views"] == 99


def test_murmur3_int_is_sparks_hash(spark: Any) -> None:
    from pyspark.sql import functions as F

    values = [0, 1, 2, 7, 42, 1000, -1, -123456, 2**31 - 1, -(2**31)]
    df = spark.createDataFrame([(v,) for v in values], "v int")
    assert [r["h"] for r in df.select(F.hash("v").alias("h")).collect()] == [
        cs.murmur3_int(v) for v in values
    ]


@pytest.mark.parametrize("partitions", [pytest.param(n, id=f"{n}-partitions") for n in (1, 3, 4, 11, 40)])
def test_partition_labels_give_each_output_file_its_own_task(spark: Any, partitions: int) -> None:
    from pyspark.sql import functions as F

    labels = cs.partition_labels(partitions)
    df = spark.createDataFrame([(label,) for label in labels], "label int").repartition(partitions, "label")
    placed = df.select("label", F.spark_partition_id().alias("p")).collect()
    assert sorted((labels.index(r["label"]), r["p"]) for r in placed) == [(p, p) for p in range(partitions)]


def test_files_per_region_rounds_big_inputs_to_the_cores() -> None:
    big = cs.SourceFile("s3://b/region=us/a.csv", 3 * cs.CSV_BYTES_PER_OUTPUT_FILE - 1, "us", "datasnaek", "")
    small = cs.SourceFile("s3://b/region=gb/b.csv", 1000, "gb", "datasnaek", "")
    assert cs.files_per_region([big], parallelism=2) == {"us": 4}
    assert cs.files_per_region([big, small], parallelism=2) == {"us": 3, "gb": 1}
    assert cs.files_per_region([small], parallelism=2) == {"gb": 1}


@pytest.mark.parametrize(
    "fmt", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_parse_tags_on_every_real_value(spark: Any, data_dir: Path, fmt: str) -> None:
    """The replacement-based split equals splitting on | and stripping one quote at each end."""
    import re

    values = []
    for path in sorted((data_dir / FORMATS[fmt]).rglob("*.csv")):
        raw = cs.read_csv(spark, [str(path)], fmt).select("tags").collect()
        values += [r[0] for r in raw]
    expected = [
        []
        if v is None or v.strip().lower() in ("[none]", "")
        else [t for t in (re.sub(r'^"|"$', "", part) for part in v.split("|")) if t]
        for v in values
    ]
    df = spark.createDataFrame([(v,) for v in values], "t string")
    got = [r["x"] for r in df.select(cs.parse_tags(df.t).alias("x")).collect()]
    assert len(got) > 1000 and got == expected


# ---- CRLF-line (parallel) read of big Kaggle originals --------------------------------------------


def _crlf_inside_quotes(data: bytes) -> bytes:
    """The real bytes with every bare CR inside a quoted description turned into CRLF (the altered copy's
    quirk), so a line-split read would cut those records."""
    return data.replace(b"\r\n", b"\x00").replace(b"\r", b"\r\n").replace(b"\x00", b"\r\n")


@pytest.mark.parametrize(
    "cut", [pytest.param(False, id="kaggle-original"), pytest.param(True, id="crlf-inside-quotes")]
)
def test_crlf_line_read_equals_multiline_read(
    spark: Any, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: bool
) -> None:
    original = (data_dir / "raw_statistics" / "region=us" / "USvideos.csv").read_bytes()
    data = _crlf_inside_quotes(original) if cut else original
    assert (data.count(b"\r\n") > original.count(b"\r\n")) == cut
    source = tmp_path / "src" / "region=us"
    source.mkdir(parents=True)
    (source / "USvideos.csv").write_bytes(data)
    outputs = {}
    for name, min_bytes in (("lines", 0), ("whole", 1 << 62)):
        monkeypatch.setattr(cs, "SPLIT_MIN_BYTES", min_bytes)
        sources = cs.inspect_files(spark, cs.list_csv_files(spark, str(tmp_path / "src"))[0])
        assert [cs.splittable(s) for s in sources] == [name == "lines"]
        target, q, m = (str(tmp_path / name / k) + "/" for k in ("t", "q", "m"))
        previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
        spark.conf.set("spark.sql.files.maxPartitionBytes", "1m")  # several splits: order across them
        try:
            result = cs.run(spark, str(tmp_path / "src"), target, q, m, "r")
        finally:
            spark.conf.set("spark.sql.files.maxPartitionBytes", previous)
        rows = spark.read.parquet(target).drop("source_file").collect()
        outputs[name] = (result.regions["us"].as_dict(), sorted(map(tuple, rows), key=repr))
    expected = expected_counts(tmp_path / "src")["us"]
    assert outputs["lines"][0] == outputs["whole"][0] == expected
    assert outputs["lines"][1] == outputs["whole"][1]
