"""clean_statistics: pure transforms, the increment's rules on tiny files, the whole job on every real CSV.

Expected values are computed here with the ``csv`` module straight from the files, never copied from the
job's output.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import importlib.util
import io
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from local.runtime import GLUE_SOURCE
from tests.glue_plans import ARRIVAL, entry, folder_plan, write_plan
from youtube_etl.settings import Settings
from youtube_lake import ledger
from youtube_lake.columns import STATISTICS_TYPES
from youtube_lake.partitions import PARTITION_OBJECT

pytestmark = pytest.mark.spark


def _load(name: str) -> ModuleType:
    # The scripts import their shared module (lake_io.py) as Glue's --extra-py-files puts it on the path.
    if str(GLUE_SOURCE) not in sys.path:
        sys.path.insert(0, str(GLUE_SOURCE))
    spec = importlib.util.spec_from_file_location(f"glue_{name}", GLUE_SOURCE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cs = _load("clean_statistics")
lake_io = sys.modules["lake_io"]
# The job's modules, one job each (deployed beside the script, as --extra-py-files).
formats = importlib.import_module("statistics_formats")
inspection = importlib.import_module("statistics_inspect")
reading = importlib.import_module("statistics_read")
rules = importlib.import_module("statistics_rules")
increment = importlib.import_module("statistics_increment")
verdicts = importlib.import_module("statistics_verdicts")

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


# ---- plans: what youtube_ingest's plan_increment hands the job --------------------------------------

D = ARRIVAL
#: The deployed default of --earliest_trending_date.
FEED_START = dt.date.fromisoformat(Settings().trending_feed_start)


class Lake:
    """Target, quarantine, ledger and metrics folders of one test lake; ``run`` writes a plan and runs."""

    def __init__(self, spark: Any, base: Path) -> None:
        self.spark = spark
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.target = str(base / "statistics") + "/"
        self.quarantine = str(base / "quarantine") + "/"
        self.ledger = str(base / "ledger") + "/"
        self.metrics = str(base / "metrics") + "/"

    def run(
        self,
        files: list[dict[str, Any]],
        run_id: str = "r",
        rebuild: list[dict[str, Any]] = (),
        **kwargs: Any,
    ) -> Any:
        plan = write_plan(self.base / f"plan-{run_id}.json", files, run_id, rebuild)
        kwargs.setdefault("earliest_trending_date", FEED_START)
        return cs.run(
            self.spark,
            plan,
            self.target,
            self.quarantine,
            self.ledger,
            self.metrics,
            run_id,
            kwargs.pop("reject_threshold", 0.01),
            **kwargs,
        )

    def rows(self) -> Any:
        return self.spark.read.option("basePath", self.target).parquet(self.target)

    def objects(self) -> list[str]:
        root = Path(self.target)
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def documents(self) -> dict[str, dict[str, Any]]:
        return {p.name: json.loads(p.read_text()) for p in Path(self.ledger).glob("*.json")}


# ---- whole job on the real data (one run per format, shared by the tests) ------------------------


@pytest.fixture(scope="module")
def runs(spark: Any, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, folder in FORMATS.items():
        lake = Lake(spark, tmp_path_factory.mktemp(name))
        results[name] = {"result": lake.run(folder_plan(data_dir / folder), "test_run"), "lake": lake}
    return results


def output(spark: Any, run: dict[str, Any]) -> Any:
    return run["lake"].rows()


@pytest.mark.parametrize(
    "fmt", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_counts_per_region_match_independent_parse(runs: dict, spark: Any, data_dir: Path, fmt: str) -> None:
    run = runs[fmt]
    expected = expected_counts(data_dir / FORMATS[fmt])
    assert run["result"].regions() == expected
    written = {r["region"]: r["count"] for r in output(spark, run).groupBy("region").count().collect()}
    assert written == {r: c["written"] for r, c in expected.items()}
    for f in run["result"].files:
        counts = f.counts()
        assert counts["read"] == counts["written"] + counts["duplicates"] + counts["rejected"]
        assert f.verdict == "processed" and f.reason is None


@pytest.mark.parametrize(
    "fmt", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_metrics_json_written(runs: dict, fmt: str) -> None:
    run = runs[fmt]
    metrics = json.loads((Path(run["lake"].metrics) / "run_id=test_run" / "metrics.json").read_text())
    assert metrics["read"] == metrics["written"] + metrics["duplicates"] + metrics["rejected"]
    assert metrics["regions"] == run["result"].regions()
    assert sum(metrics["partitions"].values()) == metrics["written"]
    assert [f["verdict"] for f in metrics["files"]] == ["processed"] * len(run["result"].files)


def test_output_schema(runs: dict, spark: Any) -> None:
    """The job writes exactly the statistics table the contract declares (the crawler and the SQL read it)."""
    types = dict(output(spark, runs["datasnaek"]).dtypes)
    assert types == {**STATISTICS_TYPES, "region": "string", "dt": "string"}
    assert types == dict(output(spark, runs["rsrishav"]).dtypes)


def test_one_object_per_region_and_trending_day(runs: dict, spark: Any) -> None:
    lake = runs["rsrishav"]["lake"]
    objects = lake.objects()
    days = {(r["region"], str(r["trending_date"])) for r in output(spark, runs["rsrishav"]).collect()}
    assert objects == sorted(f"region={r}/dt={d}/data.snappy.parquet" for r, d in days)
    assert {o.split("/")[0] for o in objects} == {
        f"region={r}" for r in ("br", "ca", "de", "fr", "gb", "in", "jp", "kr", "mx", "ru", "us")
    }
    mismatched = output(spark, runs["rsrishav"]).where("dt <> date_format(trending_date, 'yyyy-MM-dd')")
    assert mismatched.count() == 0
    assert not (Path(lake.target) / increment.STAGING_FOLDER).exists()


def test_rows_carry_their_source_and_its_arrival(runs: dict, spark: Any, data_dir: Path) -> None:
    rows = output(spark, runs["datasnaek"]).select("source_file", "source_arrival").distinct().collect()
    assert {r["source_file"] for r in rows} == {str(p) for p in (data_dir / "raw_statistics").rglob("*.csv")}
    assert {r["source_arrival"] for r in rows} == {D.replace(tzinfo=None)}


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
    quarantined = spark.read.json(run["lake"].quarantine + "run_id=test_run/")
    reasons = Counter(r["reject_reason"] for r in quarantined.collect())
    assert reasons == Counter({"truncated record (file ends inside a quoted field)": 11})
    assert sorted(r["region"] for r in quarantined.collect()) == sorted(run["result"].regions())
    # One cut record of ~800 is under the threshold: every file is processed, its cut record kept aside.
    assert all(f.verdict == "processed" and f.output == run["lake"].target for f in run["result"].files)


def test_duplicates_keep_one_row_per_key(runs: dict, spark: Any) -> None:
    out = output(spark, runs["rsrishav"])
    assert out.groupBy("region", "video_id", "trending_date").count().where("count > 1").count() == 0


def test_wrong_format_copy_is_quarantined_whole_without_failing(
    runs: dict, spark: Any, data_dir: Path
) -> None:
    run = runs["altered"]
    (result,) = run["result"].files
    assert result.verdict == "quarantined"
    assert result.reason.startswith("reject_threshold: 966 of 966 rows rejected (100.00% > 1.00%): ")
    assert "invalid boolean comments_disabled" in result.reason
    assert run["lake"].objects() == []
    quarantined = spark.read.json(run["lake"].quarantine + "run_id=test_run/")
    rows = records(data_dir / "altered_copies/region=in/INvideos.csv")
    assert quarantined.count() == len(rows)
    mangled = sum(r[0] == "#NAME?" for r in rows)
    assert quarantined.where("reject_reason = 'invalid video_id'").count() == mangled > 0
    metrics = json.loads((Path(run["lake"].metrics) / "run_id=test_run" / "metrics.json").read_text())
    assert metrics["files_quarantined"] == 1 and metrics["written"] == 0
    (doc,) = run["lake"].documents().values()
    assert (doc["verdict"], doc["reason"], doc["partitions"]) == ("quarantined", result.reason, [])
    assert doc["output"] == run["lake"].quarantine + "run_id=test_run/"


# ---- the increment's rules, on tiny synthetic files ------------------------------------------------

GOOD = (
    'abcdefghijk,17.14.11,"T","C",24,2017-11-13T17:13:01.000Z,"x"|"y",10,2,1,3,'
    'https://i.ytimg.com/vi/abcdefghijk/default.jpg,False,False,False,"line one\\nline two"'
)


def row(video_id: str = "abcdefghijk", day: str = "17.14.11", views: int = 10) -> str:
    return (
        GOOD.replace("abcdefghijk,", f"{video_id},", 1)
        .replace("17.14.11", day)
        .replace(",10,2,", f",{views},2,")
    )


def csv_file(folder: Path, name: str, *rows: str, region: str = "us") -> Path:
    path = folder / f"region={region}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((formats.DATASNAEK_HEADER + "\r\n" + "".join(r + "\r\n" for r in rows)).encode("utf-8"))
    return path


def views(lake: Lake) -> dict[tuple[str, str], tuple[int, str]]:
    """(video_id, dt) -> (views, source file name) of the published rows."""
    return {
        (r["video_id"], r["dt"]): (r["views"], Path(r["source_file"]).name)
        for r in lake.rows().select("video_id", "dt", "views", "source_file").collect()
    }


@pytest.fixture
def lake(spark: Any, tmp_path: Path) -> Lake:
    return Lake(spark, tmp_path / "lake")


@pytest.mark.parametrize(
    ("bad", "reason"),
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
        pytest.param(GOOD.replace("17.14.11", "99.14.11"), "implausible trending_date", id="year-2099"),
        pytest.param(GOOD.replace("17.14.11", "15.30.11"), "implausible trending_date", id="before-feed"),
    ],
)
def test_bad_rows_are_quarantined_with_reason(lake: Lake, tmp_path: Path, bad: str, reason: str) -> None:
    path = csv_file(tmp_path / "src", "f.csv", GOOD, bad)
    result = lake.run([entry(path)], reject_threshold=0.5)
    assert result.files[0].counts() == {"read": 2, "written": 1, "duplicates": 0, "rejected": 1}
    rejected = lake.spark.read.json(lake.quarantine + "run_id=r/").collect()
    assert [r["reject_reason"] for r in rejected] == [reason]
    assert rejected[0]["source_file"] == str(path)
    good = lake.rows().first()
    assert good["description"] == "line one\nline two" and good["tags"] == ["x", "y"]


def test_a_file_over_the_threshold_is_quarantined_and_the_others_published(
    lake: Lake, tmp_path: Path
) -> None:
    bad = csv_file(tmp_path / "src", "bad.csv", row("aaaaaaaaaaa"), GOOD.replace(",10,", ",-1,"), region="gb")
    good = csv_file(tmp_path / "src", "good.csv", row("bbbbbbbbbbb"), region="us")
    same_region = csv_file(tmp_path / "src", "other.csv", row("ccccccccccc"), region="gb")
    result = lake.run([entry(bad), entry(good), entry(same_region)])
    verdicts = {Path(f.file.uri).name: (f.verdict, f.reason) for f in result.files}
    assert verdicts["good.csv"] == ("processed", None) and verdicts["other.csv"] == ("processed", None)
    assert verdicts["bad.csv"][0] == "quarantined"
    assert (
        verdicts["bad.csv"][1] == "reject_threshold: 1 of 2 rows rejected (50.00% > 1.00%): negative views 1"
    )
    # The quarantined file's good row is not published either; the other files of its region are.
    assert set(views(lake)) == {("bbbbbbbbbbb", "2017-11-14"), ("ccccccccccc", "2017-11-14")}
    docs = {Path(d["key"]).name: d for d in lake.documents().values()}
    assert docs["bad.csv"]["verdict"] == "quarantined" and docs["good.csv"]["verdict"] == "processed"
    # None of a quarantined file's rows is published: all count as rejected, so the counts still add up.
    bad = next(f for f in result.files if f.verdict == "quarantined")
    assert bad.counts() == {"read": 2, "written": 0, "duplicates": 0, "rejected": 2}
    assert (docs["bad.csv"]["rows_read"], docs["bad.csv"]["rejected"]) == (2, 2)


def test_a_file_of_a_region_outside_the_allowed_ones_is_quarantined(lake: Lake, tmp_path: Path) -> None:
    other = csv_file(tmp_path / "src", "ZZ.csv", row("aaaaaaaaaaa"), region="zz")
    good = csv_file(tmp_path / "src", "US.csv", row("bbbbbbbbbbb"), region="us")
    result = lake.run([entry(other), entry(good)], allowed_regions=["us", "gb"])
    verdicts = {Path(f.file.uri).name: (f.verdict, f.reason) for f in result.files}
    assert verdicts["US.csv"] == ("processed", None)
    assert verdicts["ZZ.csv"][0] == "quarantined"
    assert "file not in a region=xx folder of an allowed region 1" in str(verdicts["ZZ.csv"][1])
    assert set(views(lake)) == {("bbbbbbbbbbb", "2017-11-14")}
    # The same file is published where every region folder is accepted.
    assert {v.file.region for v in lake.run([entry(other)], "any").files} == {"zz"}
    assert ("aaaaaaaaaaa", "2017-11-14") in views(lake)


def test_dedupe_follows_arrival_order_then_key_then_row(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "src"
    # z.csv sorts last but arrives first; a.csv arrives a day later and wins the key they share.
    early = csv_file(src, "z.csv", row(views=1), row("kkkkkkkkkkk", views=5))
    late = csv_file(src, "a.csv", row(views=2))
    # Same arrival: the key that sorts last wins (m.csv over b.csv); within a file the last row wins.
    noon = D + dt.timedelta(hours=12)
    tie_b = csv_file(src, "b.csv", row("kkkkkkkkkkk", views=6))
    tie_m = csv_file(src, "m.csv", row("kkkkkkkkkkk", views=7), row("kkkkkkkkkkk", views=8))
    result = lake.run(
        [entry(late, D + dt.timedelta(days=1)), entry(early), entry(tie_m, noon), entry(tie_b, noon)],
        reject_threshold=0.5,
    )
    assert views(lake) == {
        ("abcdefghijk", "2017-11-14"): (2, "a.csv"),
        ("kkkkkkkkkkk", "2017-11-14"): (8, "m.csv"),
    }
    by_name = {Path(f.file.uri).name: f.counts() for f in result.files}
    assert by_name["z.csv"] == {"read": 2, "written": 0, "duplicates": 2, "rejected": 0}
    assert by_name["m.csv"] == {"read": 2, "written": 1, "duplicates": 1, "rejected": 0}


def test_a_late_drop_loses_to_a_later_arrival_already_published(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "src"
    newer = csv_file(src, "day15.csv", row(views=15), row("nnnnnnnnnnn", views=1))
    lake.run([entry(newer, D + dt.timedelta(days=1))], "first")
    late = csv_file(src, "day14.csv", row(views=14), row("lllllllllll", views=3))
    result = lake.run([entry(late, D)], "second")
    assert views(lake) == {
        ("abcdefghijk", "2017-11-14"): (15, "day15.csv"),
        ("nnnnnnnnnnn", "2017-11-14"): (1, "day15.csv"),
        ("lllllllllll", "2017-11-14"): (3, "day14.csv"),
    }
    assert result.merged == ["region=us/dt=2017-11-14"]
    assert result.files[0].counts() == {"read": 2, "written": 1, "duplicates": 1, "rejected": 0}
    assert lake.objects() == ["region=us/dt=2017-11-14/data.snappy.parquet"]


def test_across_runs_an_arrival_tie_goes_to_the_later_sorting_file(lake: Lake, tmp_path: Path) -> None:
    """The merge with published rows breaks an arrival tie by source file, whichever run wrote which:
    the published m.csv beats a later run's a.csv, and a later run's z.csv beats the published b.csv."""
    src, noon = tmp_path / "src", D + dt.timedelta(hours=12)
    first = [csv_file(src, "m.csv", row("kkkkkkkkkkk", views=7)), csv_file(src, "b.csv", row(views=3))]
    lake.run([entry(f, noon) for f in first], "first")
    second = [csv_file(src, "a.csv", row("kkkkkkkkkkk", views=1)), csv_file(src, "z.csv", row(views=26))]
    result = lake.run([entry(f, noon) for f in second], "second")
    assert result.merged == ["region=us/dt=2017-11-14"]
    assert views(lake) == {
        ("kkkkkkkkkkk", "2017-11-14"): (7, "m.csv"),
        ("abcdefghijk", "2017-11-14"): (26, "z.csv"),
    }


def test_an_increment_writes_only_the_partitions_it_touches(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "src"
    lake.run([entry(csv_file(src, "d14.csv", row(), row(day="17.13.11")))], "first")
    untouched = Path(lake.target) / "region=us/dt=2017-11-13" / PARTITION_OBJECT
    before = (untouched.read_bytes(), untouched.stat().st_mtime_ns)
    result = lake.run(
        [entry(csv_file(src, "d15.csv", row(day="17.15.11")), D + dt.timedelta(days=1))], "second"
    )
    assert (untouched.read_bytes(), untouched.stat().st_mtime_ns) == before
    assert sorted(result.partitions) == ["region=us/dt=2017-11-15"] and result.merged == []
    assert len(lake.objects()) == 3


def test_a_changed_file_rebuilds_its_old_partitions_from_every_writer(lake: Lake, tmp_path: Path) -> None:
    """v2 of a cumulative file drops a row: the row of another file it had beaten comes back, and a day
    only v1 had disappears — as in one full run over the current files."""
    src = tmp_path / "src"
    other = csv_file(src, "daily.csv", row(views=1))
    cumulative = csv_file(src, "cumulative.csv", row(views=2), row("vvvvvvvvvvv", day="17.13.11"))
    lake.run([entry(other, D), entry(cumulative, D + dt.timedelta(hours=1))], "first")
    assert views(lake)[("abcdefghijk", "2017-11-14")] == (2, "cumulative.csv")
    docs = {Path(d["key"]).name: d for d in lake.documents().values()}
    # The ledger keeps every partition a file's valid rows went to, also where they lost the dedupe.
    assert docs["daily.csv"]["partitions"] == ["region=us/dt=2017-11-14"]
    previous = docs["cumulative.csv"]["partitions"]
    assert previous == ["region=us/dt=2017-11-13", "region=us/dt=2017-11-14"]

    csv_file(src, "cumulative.csv", row("wwwwwwwwwww", day="17.15.11"))  # v2: both old rows gone
    changed = entry(cumulative, D + dt.timedelta(days=1), previous_partitions=previous)
    rebuild = [entry(other, D, partitions=["region=us/dt=2017-11-14"])]
    result = lake.run([changed], "second", rebuild=rebuild)
    assert views(lake) == {
        ("abcdefghijk", "2017-11-14"): (1, "daily.csv"),
        ("wwwwwwwwwww", "2017-11-15"): (10, "cumulative.csv"),
    }
    assert result.rebuilt == ["region=us/dt=2017-11-14"] and result.deleted == ["region=us/dt=2017-11-13"]
    assert result.rebuild_sources == [str(other)]
    assert lake.objects() == [
        "region=us/dt=2017-11-14/data.snappy.parquet",
        "region=us/dt=2017-11-15/data.snappy.parquet",
    ]


def test_an_object_changed_since_planning_is_left_for_the_next_run(lake: Lake, tmp_path: Path) -> None:
    path = csv_file(tmp_path / "src", "f.csv", row())
    planned = entry(path, etag=lake_io.LocalStore().head(str(path))[0])  # type: ignore[index]
    csv_file(tmp_path / "src", "f.csv", row(views=99))  # re-uploaded after planning
    result = lake.run([planned])
    assert result.files == [] and [d["key"] for d in result.deferred] == [str(path)]
    assert "changed: ETag" in result.deferred[0]["reason"]
    assert lake.objects() == [] and lake.documents() == {}


def test_leftovers_of_killed_runs_and_stray_objects_are_removed(lake: Lake, tmp_path: Path) -> None:
    target = Path(lake.target)
    leftover = target / increment.STAGING_FOLDER / "killed_run" / "increment" / "region=us" / "x.parquet"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    stray = target / "region=us" / "dt=2017-11-14" / "part-00000-old.snappy.parquet"
    old_layout = target / "region=us" / "part-00000-region-only.snappy.parquet"
    for path in (stray, old_layout):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"old")
    lake.run([entry(csv_file(tmp_path / "src", "f.csv", row()))])
    assert lake.objects() == ["region=us/dt=2017-11-14/data.snappy.parquet"]


def test_running_the_same_plan_again_gives_the_same_lake(lake: Lake, tmp_path: Path) -> None:
    """A crash after the commit and before the ledger re-runs the plan: nothing doubles."""
    path = csv_file(tmp_path / "src", "f.csv", row(), row("bbbbbbbbbbb"), row(day="17.15.11"))
    lake.run([entry(path)], "one")
    first = sorted(map(tuple, lake.rows().collect()))
    again = lake.run([entry(path)], "one")
    assert sorted(map(tuple, lake.rows().collect())) == first
    assert again.files[0].counts() == {"read": 3, "written": 3, "duplicates": 0, "rejected": 0}
    assert sorted(again.merged) == ["region=us/dt=2017-11-14", "region=us/dt=2017-11-15"]


def test_ledger_documents_are_named_by_key_and_etag_and_carry_the_counts(lake: Lake, tmp_path: Path) -> None:
    import hashlib

    path = csv_file(tmp_path / "src", "f.csv", row(), row(), row(day="17.15.11"))
    etag = lake_io.LocalStore().head(str(path))[0]  # type: ignore[index]
    lake.run([entry(path, etag=etag, version_id="v7")])
    ((name, doc),) = lake.documents().items()
    assert name == f"{hashlib.sha256(str(path).encode()).hexdigest()}_{etag}.json"
    assert list(doc) == list(ledger.FIELDS)
    assert {k: doc[k] for k in ("verdict", "rows_read", "rows_written", "duplicates", "rejected")} == {
        "verdict": "processed",
        "rows_read": 3,
        "rows_written": 2,
        "duplicates": 1,
        "rejected": 0,
    }
    assert doc["partitions"] == ["region=us/dt=2017-11-14", "region=us/dt=2017-11-15"]
    assert (doc["run_id"], doc["version_id"], doc["recorded_by"]) == ("manual__r", "v7", "clean_statistics")
    assert (doc["arrival"], doc["interval_start"]) == ("2017-11-14T00:00:00Z", "2017-11-14T00:00:00+00:00")


def test_every_module_the_job_imports_is_shipped() -> None:
    """Glue puts only the script and ``--extra-py-files`` on the path: each ``include/glue`` module the job
    imports (directly or through another) is one of the settings' ``glue_libraries``."""
    import ast

    local = {p.stem for p in GLUE_SOURCE.glob("*.py")}
    imported: set[str] = set()
    todo = ["clean_statistics"]
    while todo:
        tree = ast.parse((GLUE_SOURCE / f"{todo.pop()}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in set(names) & local - imported:
                imported.add(name)
                todo.append(name)
    shipped = set(Settings().glue_libraries)
    assert {"lake_io", "statistics_inspect", "statistics_verdicts"} <= imported
    assert {f"{name}.py" for name in imported} <= shipped and "youtube_lake.zip" in shipped


def test_publish_time_is_utc_whatever_the_session_zone(lake: Lake, tmp_path: Path) -> None:
    spark = lake.spark
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        lake.run([entry(csv_file(tmp_path / "src", "f.csv", GOOD))])
        found = lake.rows().selectExpr("unix_micros(publish_time) AS micros").first()
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    expected = dt.datetime(2017, 11, 13, 17, 13, 1, tzinfo=dt.UTC)
    assert found["micros"] == int(expected.timestamp()) * 1_000_000


def test_unknown_header_is_rejected(lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "src" / "region=us" / "f.csv"
    path.parent.mkdir(parents=True)
    path.write_text("id,date\n1,2\n")
    (result,) = lake.run([entry(path)]).files
    assert result.verdict == "quarantined"
    reasons = {r["reject_reason"] for r in lake.spark.read.json(lake.quarantine + "run_id=r/").collect()}
    assert reasons == {"unrecognised header (not a known statistics format)"}


def test_a_missing_plan_is_a_clear_error(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(cs.PlanError, match="no plan at .*plan_increment writes it"):
        cs.run(
            lake.spark,
            str(tmp_path / "none.json"),
            lake.target,
            lake.quarantine,
            lake.ledger,
            lake.metrics,
            "r",
        )


def test_an_empty_plan_writes_metrics_and_nothing_else(lake: Lake) -> None:
    result = lake.run([])
    assert result.files == [] and lake.objects() == []
    assert json.loads((Path(lake.metrics) / "run_id=r" / "metrics.json").read_text())["read"] == 0


@pytest.mark.parametrize(
    ("sizes", "parallelism", "expected"),
    [
        pytest.param([10], 2, 2, id="small-input-one-task-per-core"),
        pytest.param([1500 * 1024**2], 2, 12, id="1.4-GB-rounded-to-the-cores"),
        pytest.param([], 4, 4, id="nothing"),
    ],
)
def test_shuffle_partitions(sizes: list[int], parallelism: int, expected: int) -> None:
    assert increment.shuffle_partitions(sizes, parallelism) == expected


def test_quarantine_reason_names_counts_threshold_and_reasons() -> None:
    text = verdicts.quarantine_reason(200, 3, 0.01, {"negative views": 1, "wrong column count": 2})
    assert (
        text
        == "reject_threshold: 3 of 200 rows rejected (1.50% > 1.00%): wrong column count 2, negative views 1"
    )
    assert not verdicts.exceeds_threshold(0, 0, 0.0) and verdicts.exceeds_threshold(100, 2, 0.01)
    assert not verdicts.exceeds_threshold(100, 1, 0.01)


# ---- pure functions on tiny frames ---------------------------------------------------------------


def test_detect_format() -> None:
    assert formats.detect_format("\ufeff" + formats.DATASNAEK_HEADER + "\r\n") == "datasnaek"
    assert formats.detect_format(formats.RSRISHAV_HEADER) == "rsrishav"
    assert formats.detect_format("a,b,c") == formats.UNKNOWN_FORMAT


def test_region_of() -> None:
    assert inspection.region_of("s3://b/youtube/raw_statistics/region=US/x.csv") == "us"
    assert inspection.region_of("s3://b/youtube/raw_statistics/x.csv") is None


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
    assert df.select(rules.parse_tags(df.t).alias("x")).first()["x"] == expected


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
    assert df.select(rules.parse_trending_date(df.t).alias("x")).first()["x"] == expected


@pytest.mark.parametrize(
    "fmt", [pytest.param("datasnaek", id="datasnaek"), pytest.param("rsrishav", id="rsrishav")]
)
def test_parse_tags_on_every_real_value(spark: Any, data_dir: Path, fmt: str) -> None:
    """The replacement-based split equals splitting on | and stripping one quote at each end."""
    import re

    values = []
    for path in sorted((data_dir / FORMATS[fmt]).rglob("*.csv")):
        raw = reading.read_csv(spark, [str(path)], fmt).select("tags").collect()
        values += [r[0] for r in raw]
    expected = [
        []
        if v is None or v.strip().lower() in ("[none]", "")
        else [t for t in (re.sub(r'^"|"$', "", part) for part in v.split("|")) if t]
        for v in values
    ]
    df = spark.createDataFrame([(v,) for v in values], "t string")
    got = [r["x"] for r in df.select(rules.parse_tags(df.t).alias("x")).collect()]
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
        monkeypatch.setattr(reading, "SPLIT_MIN_BYTES", min_bytes)
        sources = inspection.inspect_files(spark, [(str(source / "USvideos.csv"), len(data))])
        assert [reading.splittable(s) for s in sources] == [name == "lines"]
        lake = Lake(spark, tmp_path / name)
        previous = spark.conf.get("spark.sql.files.maxPartitionBytes")
        spark.conf.set("spark.sql.files.maxPartitionBytes", "1m")  # several splits: order across them
        try:
            result = lake.run([entry(source / "USvideos.csv")])
        finally:
            spark.conf.set("spark.sql.files.maxPartitionBytes", previous)
        rows = lake.rows().collect()
        outputs[name] = (result.regions()["us"], sorted(map(tuple, rows), key=repr))
    expected = expected_counts(tmp_path / "src")["us"]
    assert outputs["lines"][0] == outputs["whole"][0] == expected
    assert outputs["lines"][1] == outputs["whole"][1]


# ---- text must be UTF-8; trending dates must be possible ----------------------------------------------

TITLE = "Eminem - Walk On Water (Audio) ft. Beyoncé"


def test_windows_1252_text_quarantines_its_file_and_real_replacement_characters_stay(
    lake: Lake, tmp_path: Path, data_dir: Path
) -> None:
    """A real CSV with one title re-encoded as Windows-1252 (Spark would read U+FFFD) is quarantined with
    the offset of its first invalid byte; CA's genuine U+FFFD (EF BF BD) is text; the others are processed."""
    original = (data_dir / "raw_statistics/region=us/USvideos.csv").read_bytes()
    at = original.index(TITLE.encode("utf-8"))
    broken = original[:at] + TITLE.encode("cp1252") + original[at + len(TITLE.encode("utf-8")) :]
    with pytest.raises(UnicodeDecodeError) as error:
        broken.decode("utf-8")
    us = tmp_path / "src/region=us/USvideos.csv"
    us.parent.mkdir(parents=True)
    us.write_bytes(broken)
    ca = data_dir / "raw_statistics/region=ca/CAvideos.csv"
    gb = data_dir / "raw_statistics/region=gb/GBvideos.csv"
    assert ca.read_bytes().count("\ufffd".encode()) == 2
    bom = csv_file(tmp_path / "src", "bom.csv", row("bbbbbbbbbbb"), region="fr")
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())

    result = lake.run([entry(us), entry(ca), entry(gb), entry(bom)])

    verdicts = {Path(f.file.uri).name: (f.verdict, f.reason, f.output) for f in result.files}
    assert error.value.start == at + len("Eminem - Walk On Water (Audio) ft. Beyonc")
    assert verdicts["USvideos.csv"] == (
        "quarantined",
        f"not_utf8: byte 0xE9 at offset {error.value.start}",
        str(us),
    )
    assert {name: v[0] for name, v in verdicts.items()} == {
        "USvideos.csv": "quarantined",
        "CAvideos.csv": "processed",
        "GBvideos.csv": "processed",
        "bom.csv": "processed",
    }
    rows = lake.rows()
    assert rows.where("region = 'us'").count() == 0
    assert rows.where("region = 'ca' AND description LIKE '%\ufffd%'").count() > 0
    assert rows.where("region = 'fr'").count() == 1
    doc = next(d for d in lake.documents().values() if d["key"] == str(us))
    assert (doc["verdict"], doc["reason"], doc["rows_written"]) == (
        "quarantined",
        verdicts["USvideos.csv"][1],
        0,
    )
    assert us.read_bytes() == broken  # raw intact


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param("plain ascii, é, \ufffd, 😀".encode(), None, id="valid"),
        pytest.param(b"\xef\xbb\xbfvideo_id", None, id="bom"),
        pytest.param(b"abc\xe9,def", (3, 0xE9), id="latin-1-byte"),
        pytest.param(b"abc\xc3", (3, 0xC3), id="cut-at-end"),
        pytest.param(b"ab\xed\xa0\x80", (2, 0xED), id="surrogate"),
        pytest.param(b"a\xc0\xaf", (1, 0xC0), id="overlong"),
        pytest.param(b"a\x80", (1, 0x80), id="lone-continuation"),
    ],
)
@pytest.mark.parametrize("chunk", [pytest.param(1, id="1-byte-chunks"), pytest.param(4096, id="whole")])
def test_first_invalid_utf8_across_chunk_boundaries(
    data: bytes, expected: tuple[int, int] | None, chunk: int
) -> None:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    assert inspection.first_invalid_utf8(chunks) == expected


def test_trending_dates_after_the_day_after_the_ingest_are_implausible(lake: Lake, tmp_path: Path) -> None:
    path = csv_file(
        tmp_path / "src",
        "f.csv",
        row("aaaaaaaaaaa", "17.20.11"),
        row("bbbbbbbbbbb", "17.21.11"),
        row("ccccccccccc", "17.22.11"),
    )
    ingest = dt.datetime(2017, 11, 20, 23, 59, tzinfo=dt.UTC)
    result = lake.run([entry(path)], reject_threshold=0.5, ingest_time=ingest)
    assert result.files[0].counts() == {"read": 3, "written": 2, "duplicates": 0, "rejected": 1}
    assert result.rejected_by_reason == {"implausible trending_date": 1}
    rejected = lake.spark.read.json(lake.quarantine + "run_id=r/").collect()
    assert [(r["video_id"], r["reject_reason"]) for r in rejected] == [
        ("ccccccccccc", "implausible trending_date")
    ]


def test_gzip_drops_are_read_like_plain_csvs(lake: Lake, tmp_path: Path, data_dir: Path) -> None:
    """GB (no final newline) gzip-compressed gives the rows of its plain form; a compressed file that is not
    UTF-8 names the offset in its decompressed text; a ``.csv.gz`` that is not gzip is quarantined."""
    import gzip

    plain = data_dir / "raw_statistics/region=gb/GBvideos.csv"
    gb = tmp_path / "src/region=gb/GBvideos.csv.gz"
    gb.parent.mkdir(parents=True)
    gb.write_bytes(gzip.compress(plain.read_bytes()))
    bad = csv_file(tmp_path / "src", "bad.csv", row("aaaaaaaaaaa"), region="us")
    text = bad.read_bytes().replace(b',"T",', b',"T\xe9",')
    bad = bad.with_name("bad.csv.gz")
    bad.write_bytes(gzip.compress(text))
    plain_named_gz = bad.with_name("plain.csv.gz")
    plain_named_gz.write_bytes(plain.read_bytes())

    result = lake.run([entry(gb), entry(bad), entry(plain_named_gz)])

    verdicts = {Path(f.file.uri).name: (f.verdict, f.reason) for f in result.files}
    offset = text.index(b"\xe9")
    assert verdicts == {
        "GBvideos.csv.gz": ("processed", None),
        "bad.csv.gz": ("quarantined", f"not_utf8: byte 0xE9 at offset {offset} of the decompressed text"),
        "plain.csv.gz": ("quarantined", "not_gzip: Not a gzipped file (b'vi')"),
    }
    expected = {(r[0], r[1]) for r in records(plain)}
    assert result.files[0].read == len(records(plain))
    published = lake.rows().select("video_id", "trending_date", "source_file").collect()
    assert {r["source_file"] for r in published} == {str(gb)}
    assert {(r["video_id"], r["trending_date"].strftime("%y.%d.%m")) for r in published} == expected


def test_each_file_is_inspected_once_per_run(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quarantined .csv.gz files are inflated once: the quarantine reuses the run's inspection, and a
    gzip's UTF-8 check rides on the same pass. Re-inspecting a file (or inflating it again) fails here."""
    import gzip

    inspected: Counter[str] = Counter()
    opened: Counter[str] = Counter()
    inspect_file = inspection.inspect_file

    def counting_inspect(spark: Any, store: Any, path: str, size: int) -> Any:
        inspected[Path(path).name] += 1
        return inspect_file(spark, store, path, size)

    class CountingStore(lake_io.LocalStore):  # type: ignore[misc, name-defined]
        def open_binary(self, uri: str) -> Any:
            opened[Path(uri).name] += 1
            return super().open_binary(uri)

    monkeypatch.setattr(inspection, "inspect_file", counting_inspect)
    good = csv_file(tmp_path / "src", "good.csv", row(), row("bbbbbbbbbbb"))
    rejecting = tmp_path / "src/region=us/rejecting.csv.gz"
    plain = csv_file(tmp_path / "src", "r.csv", row(), row("bbbbbbbbbbb", views=-1)).read_bytes()
    rejecting.write_bytes(gzip.compress(plain))
    latin = tmp_path / "src/region=us/latin.csv.gz"
    latin.write_bytes(gzip.compress(plain.replace(b',"T",', b',"T\xe9",')))

    result = lake.run([entry(good), entry(rejecting), entry(latin)], store=CountingStore())

    verdicts = {Path(f.file.uri).name: (f.verdict, (f.reason or "").split(":")[0]) for f in result.files}
    assert verdicts == {
        "good.csv": ("processed", ""),
        "rejecting.csv.gz": ("quarantined", "reject_threshold"),
        "latin.csv.gz": ("quarantined", "not_utf8"),
    }
    quarantined = lake.spark.read.json(lake.quarantine + "run_id=r/").collect()
    assert Counter((Path(r["source_file"]).name, r["reject_reason"]) for r in quarantined) == {
        ("rejecting.csv.gz", "negative views"): 1,
        ("latin.csv.gz", "negative views"): 1,
    }
    assert inspected == {"good.csv": 1, "rejecting.csv.gz": 1, "latin.csv.gz": 1}
    assert opened == {"rejecting.csv.gz": 1, "latin.csv.gz": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(b'a,b\n1,"x"\n', ("a,b", False), id="final-newline"),
        pytest.param(b'a,b\n1,"x"', ("a,b", False), id="no-final-newline-quotes-even"),
        pytest.param(b'a,b\n1,"x\n2', ("a,b", True), id="ends-inside-quotes"),
        pytest.param(b'a,b\r\n1,"x\r\n', ("a,b\r", False), id="crlf-ends-in-newline"),
        pytest.param(b"", ("", False), id="empty-text"),
    ],
)
def test_a_gzip_stream_is_inspected_in_chunks(text: bytes, expected: tuple[str, bool]) -> None:
    """Header and "ends inside a quoted field" of a .csv.gz, streamed: chunk borders do not change them."""
    import gzip

    header, newline, rest = text.partition(b"\n")
    body = header + newline + b"x" * (3 * inspection.SCAN_CHUNK_BYTES) + rest if newline else text
    assert inspection.inspect_gzip(io.BytesIO(gzip.compress(body))) == expected


def test_a_truncated_or_plain_gzip_stream_raises() -> None:
    import gzip

    whole = gzip.compress(b"a,b\n1,2\n" * 1000)
    with pytest.raises(EOFError):
        inspection.inspect_gzip(io.BytesIO(whole[: len(whole) // 2]))
    with pytest.raises(OSError, match="Not a gzipped file"):
        inspection.inspect_gzip(io.BytesIO(b"a,b\n1,2\n"))
