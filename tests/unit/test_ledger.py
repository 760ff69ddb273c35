"""The landing ledger's document (``youtube_lake.ledger``): names and fields, checked against the contract in
docs/daily-pipeline.md."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from local.runtime import REPO_ROOT
from youtube_lake import ledger
from youtube_lake.ledger import LedgerError

OBJ = {
    "key": "youtube/raw_statistics/landing_date=2017-11-14/region=us/USvideos.csv",
    "bucket": "raw",
    "etag": '"abc"',
    "version_id": "v1",
    "size": 12,
    "last_modified": "2026-11-29T10:00:00Z",
    "arrival": "2017-11-14T00:00:00Z",
    "kind": "statistics",
    "region": "us",
}


def documented_fields() -> dict[str, str]:
    """field -> type from the ledger table of the design notes."""
    text = (REPO_ROOT / "docs" / "daily-pipeline.md").read_text(encoding="utf-8")
    section = text.split("## The landing ledger", 1)[1].split("\n## ", 1)[0]
    fields: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([a-z_]+)`", cells[0]):
                fields[name] = cells[1]
    return fields


def test_fields_are_the_documented_table_in_order() -> None:
    assert list(ledger.FIELDS.items()) == list(documented_fields().items())


def test_document_name_is_the_key_hash_and_etag() -> None:
    name = ledger.document_name(OBJ["key"], '"abc-3"')
    assert name == hashlib.sha256(OBJ["key"].encode()).hexdigest() + "_abc-3.json"


@pytest.mark.parametrize("etag", [pytest.param("", id="empty"), pytest.param("a/b", id="slash")])
def test_an_etag_that_cannot_name_a_document_is_an_error(etag: str) -> None:
    with pytest.raises(LedgerError, match="cannot name a ledger document"):
        ledger.document_name("k", etag)


def test_listing_parses_to_key_hash_and_etags_skipping_strays() -> None:
    a = ledger.document_name("a", "e1")
    b = ledger.document_name("a", "e2")
    listing = [f"p/{a}", f"p/{b}", "p/", "p/readme.txt", "p/zz_e.json"]
    assert ledger.parse_listing(listing) == {ledger.key_hash("a"): {"e1", "e2"}}


def test_document_has_every_field_and_one_json_line() -> None:
    doc = ledger.document(
        **OBJ,
        verdict="processed",
        run_id="manual__1",
        recorded_by="clean_statistics",
        interval=("2017-11-14T00:00:00+00:00", "2017-11-15T00:00:00+00:00"),
        counts={"rows_read": 3, "rows_written": 2, "duplicates": 1, "rejected": 0},
        partitions=["region=us/dt=2017-11-14"],
        output="s3://processed/youtube/statistics/",
    )
    assert list(doc) == list(ledger.FIELDS)
    assert doc["bucket"] == "raw" and doc["etag"] == "abc" and doc["reason"] is None
    body = ledger.document_body(doc)
    assert body.endswith(b"\n") and body.count(b"\n") == 1 and json.loads(body) == doc


@pytest.mark.parametrize(
    ("verdict", "reason", "message"),
    [
        pytest.param("processed", "x: y", "has no reason", id="processed-with-reason"),
        pytest.param("ignored", None, "needs a reason", id="ignored-without-reason"),
        pytest.param("lost", "x: y", "unknown verdict", id="unknown-verdict"),
    ],
)
def test_verdict_and_reason_rules(verdict: str, reason: str | None, message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        ledger.document(**OBJ, verdict=verdict, reason=reason, run_id="r", recorded_by="youtube_ingest")


def test_glue_table_is_json_serde_over_every_field() -> None:
    table = ledger.glue_table_input("landing_ledger", "s3://processed/youtube/landing_ledger/")
    sd = table["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == list(ledger.FIELDS.items())
    assert sd["Location"].endswith("/landing_ledger/") and table.get("PartitionKeys") is None
