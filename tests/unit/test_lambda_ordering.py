"""The Lambda's ordering rules and ledger documents, each on small synthetic cases (no AWS)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.runtime import LAMBDA_SOURCE, REPO_ROOT
from youtube_etl import landing, ledger

sys.path.insert(0, str(LAMBDA_SOURCE))
import landing_ledger as ll  # noqa: E402
import partition_order as po  # noqa: E402

PREFIX = "youtube/raw_statistics_reference_data/"
T0 = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)
DAY = timedelta(days=1)


def source(key: str, arrival: datetime = T0, version: str | None = "v1", etag: str = "e1") -> po.Source:
    return po.Source("raw", key, version, etag, arrival)


# ---- arrival ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param(f"{PREFIX}US_category_id.json", T0, id="undated-last-modified"),
        pytest.param(
            f"{PREFIX}landing_date=2017-11-14/US_category_id.json",
            datetime(2017, 11, 14, tzinfo=UTC),
            id="dated",
        ),
        pytest.param(
            f"{PREFIX}feed/landing_date=2017-11-14/x/US_category_id.json",
            datetime(2017, 11, 14, tzinfo=UTC),
            id="dated-any-level",
        ),
        pytest.param("other/landing_date=2017-11-14/US_category_id.json", T0, id="outside-the-prefix"),
        pytest.param(f"{PREFIX}US_landing_date=2017-11-14.json", T0, id="in-the-name-not-a-folder"),
    ],
)
def test_arrival(key: str, expected: datetime) -> None:
    assert po.arrival(key, T0, PREFIX) == expected


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param("landing_date=2017-13-45", id="no-such-day"),
        pytest.param("landing_date=2017-1-4", id="not-zero-padded"),
        pytest.param("landing_date=", id="empty"),
    ],
)
def test_malformed_landing_date_is_an_error(folder: str) -> None:
    with pytest.raises(po.LandingDateError, match=re.escape(folder)):
        po.arrival(f"{PREFIX}{folder}/US_category_id.json", T0, PREFIX)


def test_arrival_agrees_with_the_planner() -> None:
    """The Lambda is deployed alone, so it carries its own arrival rule; it must equal the planner's."""
    for key in (
        f"{PREFIX}US_category_id.json",
        f"{PREFIX}landing_date=2017-11-14/US_category_id.json",
        f"{PREFIX}a/landing_date=2020-02-29/b/CA_category_id.json",
        "elsewhere/landing_date=2017-11-14/US_category_id.json",
    ):
        obj = landing.LandingObject(key=key, etag="e", size=1, last_modified=T0)
        assert landing.arrival(obj, PREFIX) == po.arrival(key, T0, PREFIX), key
    for folder in ("landing_date=2017-13-45", "landing_date=x"):
        key = f"{PREFIX}{folder}/US_category_id.json"
        with pytest.raises(landing.PlanError):
            landing.landing_date(key, PREFIX)
        with pytest.raises(po.LandingDateError):
            po.landing_date(key, PREFIX)


def test_arrival_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        po.arrival("k", datetime(2026, 1, 1), PREFIX)


# ---- the decision -------------------------------------------------------------------------------------


def test_nothing_stored_is_written() -> None:
    assert po.decide(source("a"), None) is po.Decision.WRITE


def test_the_stored_version_is_unchanged() -> None:
    assert po.decide(source("a"), source("a")) is po.Decision.UNCHANGED


def test_another_version_of_the_same_key_asks_for_the_current_version() -> None:
    """50 quick PUTs share one LastModified second: only S3's version order can tell, whatever the arrival."""
    older_arrival = source("a", T0 - DAY, version="v2", etag="e2")
    assert po.decide(older_arrival, source("a", T0, version="v1")) is po.Decision.CHECK_CURRENT
    assert po.decide(source("a", T0 + DAY, version="v2"), source("a", T0, version="v1")) is (
        po.Decision.CHECK_CURRENT
    )


def test_unversioned_objects_are_told_apart_by_etag() -> None:
    assert po.decide(source("a", version=None, etag="e1"), source("a", version=None, etag="e1")) is (
        po.Decision.UNCHANGED
    )
    assert po.decide(source("a", version=None, etag="e2"), source("a", version=None, etag="e1")) is (
        po.Decision.CHECK_CURRENT
    )


@pytest.mark.parametrize(
    ("candidate", "stored", "expected"),
    [
        pytest.param(
            source(f"{PREFIX}landing_date=2017-11-15/US_category_id.json", T0 + DAY),
            source(f"{PREFIX}landing_date=2017-11-14/US_category_id.json", T0),
            po.Decision.WRITE,
            id="later-day-replaces",
        ),
        pytest.param(
            source(f"{PREFIX}landing_date=2017-11-14/US_category_id.json", T0),
            source(f"{PREFIX}landing_date=2017-11-15/US_category_id.json", T0 + DAY),
            po.Decision.OLDER,
            id="earlier-day-arriving-late-is-older",
        ),
        pytest.param(source("b", T0), source("a", T0), po.Decision.WRITE, id="same-instant-last-key-wins"),
        pytest.param(source("a", T0), source("b", T0), po.Decision.OLDER, id="same-instant-first-key-loses"),
        pytest.param(
            source("a", T0 + timedelta(seconds=1)),
            source("b", T0),
            po.Decision.WRITE,
            id="arrival-before-key",
        ),
        pytest.param(source("B", T0), source("a", T0), po.Decision.OLDER, id="keys-compare-by-code-point"),
    ],
)
def test_arrival_order_decides_between_keys(candidate: po.Source, stored: po.Source, expected: Any) -> None:
    assert po.decide(candidate, stored) is expected


# ---- the processed object's metadata -------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(f"{PREFIX}US_category_id.json", id="plain"),
        pytest.param(f"{PREFIX}drop 2026-11-24 ünïcødé +plus/100%/MX_category_id.json", id="unicode-percent"),
    ],
)
def test_metadata_round_trips_the_source(key: str) -> None:
    original = po.Source("raw", key, None, "abc-2", datetime(2017, 11, 14, tzinfo=UTC))
    metadata = po.source_metadata(original, rows=31)
    assert all(value.isascii() for value in metadata.values()), "S3 user metadata must be ASCII"
    assert po.source_from_metadata(metadata) == original
    assert metadata[po.META_ROWS] == "31"


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({}, id="none"),
        pytest.param({"source-key": "k"}, id="partial"),
        pytest.param(
            {"source-bucket": "b", "source-key": "k", "source-etag": "e", "source-arrival": "yesterday"},
            id="bad-arrival",
        ),
    ],
)
def test_metadata_without_a_source_names_none(metadata: dict[str, str]) -> None:
    assert po.source_from_metadata(metadata) is None


# ---- ledger documents ----------------------------------------------------------------------------------


def _documented_fields() -> list[str]:
    """Field names of the ledger table in docs/daily-pipeline.md (the contract)."""
    text = (REPO_ROOT / "docs" / "daily-pipeline.md").read_text(encoding="utf-8")
    section = text.split("## The landing ledger", 1)[1].split("\n## ", 1)[0]
    fields: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            fields += re.findall(r"`([a-z_]+)`", line.split("|")[1])
    return fields


def test_fields_are_the_documented_ones_in_order() -> None:
    assert list(ll.FIELDS) == _documented_fields()


def test_fields_and_names_agree_with_the_pipeline_side() -> None:
    assert list(ll.FIELDS) == list(ledger.FIELDS)
    key = f"{PREFIX}landing_date=2017-11-14/ünï/US_category_id.json"
    assert ll.document_name(key, '"abc-2"') == ledger.ledger_document_name(key, '"abc-2"')
    assert set(ll.VERDICTS) <= set(ledger.VERDICTS) and ll.RECORDED_BY in ledger.RECORDERS


def test_document_name_is_the_key_hash_and_the_etag() -> None:
    key = f"{PREFIX}landing_date=2017-11-14/ünï/US_category_id.json"
    expected = f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}_0a1b-3.json"
    assert ll.document_name(key, '"0a1b-3"') == expected
    with pytest.raises(ValueError, match="cannot name"):
        ll.document_name(key, '""')


def _document(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "bucket": "raw",
        "key": "k/US_category_id.json",
        "version_id": "v1",
        "etag": '"e1"',
        "size": 10,
        "last_modified": T0,
        "arrival": datetime(2017, 11, 14, tzinfo=UTC),
        "region": "us",
        "verdict": "processed",
        "reason": None,
        "run_id": "s3-event:req",
        "interval": (None, None),
        "rows": 31,
        "partitions": ["region=us"],
        "output": "s3://processed/x",
        "recorded_at": T0,
    }
    return ll.document(**(values | overrides))


def test_processed_document() -> None:
    doc = _document()
    assert tuple(doc) == ll.FIELDS
    assert doc["etag"] == "e1"
    assert (doc["last_modified"], doc["arrival"], doc["recorded_at"]) == (
        "2026-11-24T09:30:05Z",
        "2017-11-14T00:00:00Z",
        "2026-11-24T09:30:05Z",
    )
    assert (doc["rows_read"], doc["rows_written"], doc["duplicates"], doc["rejected"]) == (31, 31, 0, 0)
    assert (doc["kind"], doc["recorded_by"]) == ("reference", "json_to_parquet")
    body = ll.document_body(doc)
    assert body.endswith(b"\n") and body.count(b"\n") == 1, "one document per line for the OpenX SerDe"
    assert json.loads(body) == doc


@pytest.mark.parametrize("verdict", [pytest.param(v, id=v) for v in ("quarantined", "superseded")])
def test_other_verdicts_carry_a_reason_and_no_counts(verdict: str) -> None:
    doc = _document(verdict=verdict, reason="code: detail", rows=None, partitions=[], output=None)
    assert (doc["rows_read"], doc["rows_written"], doc["duplicates"], doc["rejected"]) == (None,) * 4
    with pytest.raises(ValueError, match="needs a reason"):
        _document(verdict=verdict, reason=None)


def test_a_processed_verdict_has_no_reason_and_verdicts_are_known() -> None:
    with pytest.raises(ValueError, match="has no reason"):
        _document(reason="x: y")
    with pytest.raises(ValueError, match="unknown verdict"):
        _document(verdict="ignored", reason="x: y")


def test_interval_and_run_come_from_the_scheduled_payload() -> None:
    doc = _document(run_id="scheduled__2017-11-15", interval=("2017-11-14T00:00:00Z", "2017-11-15T00:00:00Z"))
    assert (doc["run_id"], doc["interval_start"], doc["interval_end"]) == (
        "scheduled__2017-11-15",
        "2017-11-14T00:00:00Z",
        "2017-11-15T00:00:00Z",
    )


def test_repo_root_is_this_checkout() -> None:
    assert (REPO_ROOT / "docs" / "daily-pipeline.md").exists()
    assert Path(ll.__file__).parent == LAMBDA_SOURCE
