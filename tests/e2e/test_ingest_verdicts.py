"""Verdicts and isolation through youtube_ingest on the local runtime (dag.test, real Glue job and crawler).

One drop holds a good US file, a good gzip-compressed GB file, a file in the wrong format (the
spreadsheet-saved IN copy: every row rejected), the battery of bad statistics files and keys (``BATTERY``:
one run over all of them, each with its verdict and reason), two category files, and objects dropped
outside the landing prefixes (``STRAYS``) beside what the pipeline writes into the raw bucket itself (the
S3-event Lambda's quarantine copy of a bad category file, folder markers). The run publishes the good
regions, quarantines the bad files once, records a verdict for every object a user dropped (none for the
pipeline's own), and fails naming region, file and reason; the next run over the same interval does not
read the quarantined files again and succeeds.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from local.drops import split_file
from local.pipeline import DagRunResult, Drop, ingest_summary, run_dag, wait_for_event_invocations
from local.runtime import LocalRuntime, patched_environ

pytestmark = pytest.mark.slow

DAY = datetime(2017, 11, 14, tzinfo=UTC)
NEXT = datetime(2017, 11, 15, tzinfo=UTC)
STATS = "youtube/raw_statistics/landing_date=2017-11-14/"
REF = "youtube/raw_statistics_reference_data/landing_date=2017-11-14/"

HEADER = (
    b"video_id,trending_date,title,channel_title,category_id,publish_time,tags,views,likes,dislikes,"
    b"comment_count,thumbnail_link,comments_disabled,ratings_disabled,video_error_or_removed,description\r\n"
)
ROW = (
    b'abcdefghijk,17.14.11,"T","C",24,2017-11-13T17:13:01.000Z,"x"|"y",10,2,1,3,'
    b'https://i.ytimg.com/vi/abcdefghijk/default.jpg,False,False,False,"d"\r\n'
)


def rows(*changes: tuple[bytes, bytes]) -> bytes:
    """A datasnaek file of one synthetic row with ``changes`` applied to it."""
    row = ROW
    for old, new in changes:
        row = row.replace(old, new, 1)
    return HEADER + row


def threshold(reason: str) -> str:
    return f"reject_threshold: 1 of 1 rows rejected (100.00% > 1.00%): {reason} 1"


#: Bad statistics inputs and keys in one drop: key (below STATS) -> (body, verdict, reason).
BATTERY: dict[str, tuple[bytes, str, str]] = {
    "region=de/cp1252.csv": (rows((b'"T"', b'"T\xe9"')), "quarantined", "not_utf8: byte 0xE9 at offset 217"),
    "region=de/cp1252.csv.gz": (
        gzip.compress(rows((b'"T"', b'"\x93T\x94"'))),
        "quarantined",
        "not_utf8: byte 0x93 at offset 216 of the decompressed text",
    ),
    "region=fr/year-2099.csv": (
        rows((b"17.14.11", b"99.14.11")),
        "quarantined",
        threshold("implausible trending_date"),
    ),
    "region=fr/before-feed.csv": (
        rows((b"17.14.11", b"14.14.11")),
        "quarantined",
        threshold("implausible trending_date"),
    ),
    "region=fr/bad-day.csv": (
        rows((b"17.14.11", b"17.31.02")),
        "quarantined",
        threshold("unparseable trending_date"),
    ),
    "region=fr/bad-publish.csv": (
        rows((b"2017-11-13T17:13:01.000Z", b"yesterday")),
        "quarantined",
        threshold("unparseable publish_time"),
    ),
    "region=jp/header.csv": (
        b"id,date\r\n" + ROW,
        "quarantined",
        threshold("unrecognised header (not a known statistics format)"),
    ),
    "region=jp/short.csv": (
        rows((b",False,False,False,", b",False,")),
        "quarantined",
        threshold("wrong column count"),
    ),
    "region=jp/truncated.csv": (
        rows()[: -len(b'd"\r\n')],
        "quarantined",
        threshold("truncated record (file ends inside a quoted field)"),
    ),
    "region=kr/negative.csv": (rows((b",10,2,", b",-10,2,")), "quarantined", threshold("negative views")),
    "region=kr/text-count.csv": (
        rows((b",10,2,", b",ten,2,")),
        "quarantined",
        threshold("non-numeric views"),
    ),
    "region=kr/id.csv": (rows((b"abcdefghijk,", b"#NAME?,")), "quarantined", threshold("invalid video_id")),
    "region=kr/category.csv": (rows((b",24,", b",x,")), "quarantined", threshold("invalid category_id")),
    "region=mx/boolean.csv": (
        rows((b",False,False,False,", b",FALSE,False,False,")),
        "quarantined",
        threshold("invalid boolean comments_disabled"),
    ),
    "region=zz/unknown-region.csv": (
        rows(),
        "quarantined",
        threshold("file not in a region=xx folder of an allowed region"),
    ),
    "region=mx/not-gzip.csv.gz": (rows(), "quarantined", "not_gzip: Not a gzipped file (b'vi')"),
    "region=us/US.JSON": (b"{}", "ignored", "wrong_suffix: "),
    "region=us/US.csv.zip": (b"PK", "ignored", "wrong_suffix: "),
    "region=usa/US.csv": (rows(), "ignored", "no_region_folder: "),
    "USvideos.csv": (rows(), "ignored", "no_region_folder: "),
}


#: Objects outside the landing prefixes (key -> body): each is ignored naming the landing prefixes. The
#: category file is not under the notification's prefix either: no S3 event, and no run converts it.
STRAYS: dict[str, bytes] = {
    "youtube/raw_statistic/landing_date=2017-11-14/region=us/USvideos.csv": rows(),  # a typo'd folder
    "USvideos.csv": rows(),  # the bucket root
    "youtube/raw_reference/CA_category_id.json": b'{"kind": "youtube#videoCategoryListResponse"}',
}
#: What the pipeline (or a console, or a Hadoop writer) puts into the raw bucket that is no drop: no verdict.
MARKERS = ("youtube/raw_statistic/", "quarantine_$folder$")
#: A category file of a region outside data_regions: the S3-event Lambda quarantines it at once and writes
#: its copy and error report under quarantine/ before the first run lists the bucket.
BAD_CATEGORIES = f"{REF}ZZ_category_id.json"


@pytest.fixture(scope="module")
def runs(local_aws: LocalRuntime, airflow_db: Path, data_dir: Path) -> Iterator[dict[str, Any]]:
    local_aws.reset()
    s3, s = local_aws.client("s3"), local_aws.settings
    us_day = split_file((data_dir / "raw_statistics/region=us/USvideos.csv").read_bytes(), single_days=1)
    gb_day = split_file((data_dir / "raw_statistics/region=gb/GBvideos.csv").read_bytes(), single_days=1)
    objects = {
        f"{STATS}region=us/USvideos.csv": us_day[DAY.date()],
        f"{STATS}region=gb/GBvideos.csv.gz": gzip.compress(gb_day[DAY.date()]),
        **{STATS + key: body for key, (body, _, _) in BATTERY.items()},
        f"{STATS}region=in/INvideos.csv": (data_dir / "altered_copies/region=in/INvideos.csv").read_bytes(),
        f"{STATS}notes.txt": b"not a statistics file",
        f"{REF}US_category_id.json": (
            data_dir / "raw_statistics_reference_data/US_category_id.json"
        ).read_bytes(),
        f"{REF}IN_category_id.json": (
            data_dir / "raw_statistics_reference_data/IN_category_id.json"
        ).read_bytes(),
        BAD_CATEGORIES: (data_dir / "raw_statistics_reference_data/US_category_id.json").read_bytes(),
        # In the reference prefix, but not a suffix the notification sends (it is case-sensitive).
        f"{REF}GB_category_id.JSON": (
            data_dir / "raw_statistics_reference_data/GB_category_id.json"
        ).read_bytes(),
        **STRAYS,
        **{key: b"" for key in MARKERS},
    }
    for key, body in objects.items():
        s3.put_object(Bucket=s.raw_bucket, Key=key, Body=body)
    wait_for_event_invocations(local_aws)
    with patched_environ({"AIRFLOW__YOUTUBE_ETL__POLL_INTERVAL": "0.2"}):
        first = run_dag("youtube_ingest", 0.0, NEXT, progress=False)
        summary = ingest_summary(local_aws, Drop(data_dir, DAY.date()), first, 0.0)  # make run's lines
        ledger_after_first = ledger(local_aws)
        second = run_dag("youtube_ingest", 0.0, datetime(2017, 11, 16, tzinfo=UTC), progress=False)
    yield {
        "first": first,
        "second": second,
        "ledger": ledger_after_first,
        "objects": objects,
        "summary": summary,
    }
    local_aws.reset()


def ledger(runtime: LocalRuntime) -> dict[str, dict[str, Any]]:
    s3, s = runtime.client("s3"), runtime.settings
    docs = {}
    for obj in runtime.list_objects(s.processed_bucket, s.prefixes.landing_ledger):
        doc = json.loads(s3.get_object(Bucket=s.processed_bucket, Key=obj["Key"])["Body"].read())
        docs[doc["key"]] = doc
    return docs


def test_a_quarantined_file_fails_the_run_naming_region_file_and_reason(runs: dict[str, Any]) -> None:
    first: DagRunResult = runs["first"]
    assert first.state == "failed" and first.failed == ["record_verdicts"] and first.verdict_failure
    quarantined = {q["key"]: q for q in first.verdicts["quarantined"]}
    expected = {STATS + key for key, (_, verdict, _) in BATTERY.items() if verdict == "quarantined"}
    assert set(quarantined) == {f"{STATS}region=in/INvideos.csv", *expected}
    assert quarantined[f"{STATS}region=in/INvideos.csv"]["region"] == "in"
    assert quarantined[f"{STATS}region=in/INvideos.csv"]["reason"].startswith(
        "reject_threshold: 966 of 966 rows rejected"
    )
    for task in ("run_clean_statistics", "crawl_processed", "plan_increment", "wait_for_drop"):
        assert first.tasks[task] == "success", task


def test_the_good_region_is_published_before_the_run_fails(
    runs: dict[str, Any], local_aws: LocalRuntime
) -> None:
    s = local_aws.settings
    glue = local_aws.client("glue")
    partitions = glue.get_partitions(DatabaseName=s.processed_database, TableName=s.statistics_table)[
        "Partitions"
    ]
    assert {tuple(p["Values"]) for p in partitions} == {("us", "2017-11-14"), ("gb", "2017-11-14")}


def test_every_object_got_one_verdict(runs: dict[str, Any]) -> None:
    docs = runs["ledger"]
    verdicts = {key: (d["verdict"], d["recorded_by"]) for key, d in docs.items() if key.startswith(STATS)}
    assert verdicts == {
        f"{STATS}region=us/USvideos.csv": ("processed", "clean_statistics"),
        f"{STATS}region=gb/GBvideos.csv.gz": ("processed", "clean_statistics"),
        f"{STATS}region=in/INvideos.csv": ("quarantined", "clean_statistics"),
        f"{STATS}notes.txt": ("ignored", "youtube_ingest"),
        **{
            STATS + key: (verdict, "clean_statistics" if verdict == "quarantined" else "youtube_ingest")
            for key, (_, verdict, _) in BATTERY.items()
        },
    }
    assert docs[f"{STATS}notes.txt"]["reason"].startswith("wrong_suffix: ")
    # Every object a user dropped has its one verdict, wherever it was dropped; markers have none.
    assert set(docs) == set(runs["objects"]) - set(MARKERS)
    us = docs[f"{STATS}region=us/USvideos.csv"]
    assert (us["rows_read"], us["rows_written"], us["partitions"]) == (200, 200, ["region=us/dt=2017-11-14"])
    assert us["run_id"] == runs["first"].run_id and us["arrival"] == "2017-11-14T00:00:00Z"


@pytest.mark.parametrize("key", [pytest.param(key, id=key) for key in BATTERY])
def test_battery_each_bad_input_gets_its_verdict_and_reason_and_stays_intact(
    runs: dict[str, Any], local_aws: LocalRuntime, key: str
) -> None:
    body, verdict, reason = BATTERY[key]
    doc = runs["ledger"][STATS + key]
    assert doc["verdict"] == verdict
    if verdict == "ignored":
        assert doc["reason"].startswith(reason), doc["reason"]
    else:
        assert doc["reason"] == reason
        assert (doc["rows_written"], doc["partitions"]) == (0, [])
    s3, s = local_aws.client("s3"), local_aws.settings
    assert s3.get_object(Bucket=s.raw_bucket, Key=STATS + key)["Body"].read() == body
    # The good files of the same drop were processed.
    good = runs["ledger"][f"{STATS}region=gb/GBvideos.csv.gz"]
    assert good["verdict"] == "processed" and good["rows_written"] == good["rows_read"] > 0


OUTSIDE = (
    "outside_landing_prefixes: not below the landing prefixes "
    "(youtube/raw_statistics/, youtube/raw_statistics_reference_data/)"
)


@pytest.mark.parametrize("key", [pytest.param(key, id=key) for key in STRAYS])
def test_an_object_outside_the_landing_prefixes_is_ignored_naming_them(
    runs: dict[str, Any], local_aws: LocalRuntime, key: str
) -> None:
    doc = runs["ledger"][key]
    assert (doc["verdict"], doc["reason"], doc["recorded_by"]) == ("ignored", OUTSIDE, "youtube_ingest")
    assert (doc["kind"], doc["region"], doc["run_id"]) == ("other", None, runs["first"].run_id)
    # What make run prints under the run's progress line (and keeps in runs.jsonl).
    assert {"key": key, "reason": OUTSIDE} in runs["summary"]["ignored"]
    s3, s = local_aws.client("s3"), local_aws.settings
    assert s3.get_object(Bucket=s.raw_bucket, Key=key)["Body"].read() == STRAYS[key]
    # The good files of the same drop were processed.
    good = runs["ledger"][f"{STATS}region=us/USvideos.csv"]
    assert good["verdict"] == "processed" and good["rows_written"] == good["rows_read"] > 0


def test_the_run_reports_every_ignored_object_and_nothing_the_pipeline_wrote(
    runs: dict[str, Any], local_aws: LocalRuntime
) -> None:
    ignored = {key for key, d in runs["ledger"].items() if d["verdict"] == "ignored"}
    assert runs["first"].verdicts["ignored"] == len(ignored) == len(runs["summary"]["ignored"])
    assert ignored >= {*STRAYS, f"{REF}GB_category_id.JSON"}
    assert runs["ledger"][f"{REF}GB_category_id.JSON"]["reason"] == (
        "wrong_suffix: 'GB_category_id.JSON' does not end with .json or .json.gz"
    )
    # The S3-event Lambda quarantined the bad category file before the run listed the bucket: its copy and
    # error report were in the listing, and got no verdict.
    bad = runs["ledger"][BAD_CATEGORIES]
    assert (bad["verdict"], bad["recorded_by"]) == ("quarantined", "json_to_parquet")
    s = local_aws.settings
    copies = [o["Key"] for o in local_aws.list_objects(s.raw_bucket, s.prefixes.quarantine)]
    assert any(k.endswith("ZZ_category_id.json") for k in copies)
    assert any(k.endswith("ZZ_category_id.json.error.json") for k in copies)
    assert not [key for key in runs["ledger"] if key.startswith(s.prefixes.quarantine)]
    # Neither path converted the category file outside the reference prefix (nor the .JSON one).
    converted = [o["Key"] for o in local_aws.list_objects(s.processed_bucket, s.prefixes.category_reference)]
    assert any("region=us/" in k for k in converted)
    assert not [k for k in converted if "region=ca/" in k or "region=gb/" in k]


def test_the_next_run_does_not_read_the_quarantined_file_again(
    runs: dict[str, Any], local_aws: LocalRuntime
) -> None:
    second: DagRunResult = runs["second"]
    # The interval of 2017-11-15 has no drop of its own, so its sensor gives up at once (a past day)...
    assert second.tasks["wait_for_drop"] == "failed"
    # ...and re-running the quarantined file's interval takes nothing: its verdict stands until it changes.
    again = run_dag("youtube_ingest", 0.0, NEXT, progress=False)
    assert again.state == "success", again.tasks
    assert again.tasks["run_clean_statistics"] == "skipped" and again.tasks["crawl_processed"] == "skipped"
    assert again.verdicts["quarantined"] == []
    # Nothing is reported twice, nor the rejected rows clean_statistics wrote under quarantine/ since.
    assert again.verdicts["ignored"] == 0
    assert list(local_aws.list_objects(local_aws.settings.raw_bucket, "quarantine/statistics/"))
    assert ledger(local_aws) == runs["ledger"]


def test_the_ledger_is_queryable_with_athena(runs: dict[str, Any], local_aws: LocalRuntime) -> None:
    s = local_aws.settings
    athena = local_aws.client("athena")
    query = (
        f"SELECT verdict, count(*) AS n FROM {s.processed_database}.{s.landing_ledger_table} GROUP BY verdict"
    )
    execution = athena.start_query_execution(QueryString=query, WorkGroup=s.athena_workgroup)[
        "QueryExecutionId"
    ]
    for _ in range(600):
        state = athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Status"]
        if state["State"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.1)
    assert state["State"] == "SUCCEEDED", state
    rows = athena.get_query_results(QueryExecutionId=execution)["ResultSet"]["Rows"][1:]
    counts = {r["Data"][0]["VarCharValue"]: int(r["Data"][1]["VarCharValue"]) for r in rows}
    expected = Counter(d["verdict"] for d in runs["ledger"].values())
    assert counts["processed"] >= 1
    assert (counts["quarantined"], counts["ignored"]) == (expected["quarantined"], expected["ignored"])
    # IN, the battery's and the bad category file; notes.txt, GB_category_id.JSON, the battery's, STRAYS.
    battery = Counter(verdict for _, verdict, _ in BATTERY.values())
    assert expected["quarantined"] == 2 + battery["quarantined"]
    assert expected["ignored"] == 2 + battery["ignored"] + len(STRAYS)
