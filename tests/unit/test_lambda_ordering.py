"""The Lambda's ordering rules and the ledger documents it writes, each on small synthetic cases (no AWS)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.runtime import LAMBDA_SOURCE
from youtube_etl.settings import get_settings

sys.path.insert(0, str(LAMBDA_SOURCE))
import partition_order as po  # noqa: E402
from function_config import Config  # noqa: E402
from record import Record, Version  # noqa: E402

from youtube_lake import ledger  # noqa: E402
from youtube_lake.invocation import RunInfo, S3Object  # noqa: E402

PREFIX = "youtube/raw_statistics_reference_data/"
T0 = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)
DAY = timedelta(days=1)


def source(key: str, arrival: datetime = T0, version: str | None = "v1", etag: str = "e1") -> po.Source:
    return po.Source("raw", key, version, etag, arrival)


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


def _document(verdict: str = "processed", **overrides: Any) -> dict[str, Any]:
    """The document the handler writes for a record (``Record.ledger``), parsed back from its body."""
    config = Config.from_environ(get_settings({}).lambda_environment())
    run = overrides.pop("run", RunInfo("s3-event:req"))
    record = Record(S3Object("raw", f"{PREFIX}x/US_category_id.json", "v1", "e1"), config, run, "req", T0)
    record.about(Version("v1", "e1", 10, T0))
    values: dict[str, Any] = {"reason": None, "rows": 31, "output": "s3://processed/x"} | overrides
    entry = record.ledger(verdict, values.pop("reason"), **values)
    assert entry is not None
    key, body = entry
    assert key == config.ledger_key(record.source.key, "e1")
    assert body.endswith(b"\n") and body.count(b"\n") == 1, "one document per line for the OpenX SerDe"
    return dict(json.loads(body))


def test_processed_document() -> None:
    doc = _document()
    assert list(doc) == list(ledger.FIELDS)
    assert (doc["etag"], doc["version_id"], doc["size"], doc["region"]) == ("e1", "v1", 10, "us")
    assert (doc["last_modified"], doc["arrival"], doc["recorded_at"]) == (
        "2026-11-24T09:30:05Z",
        "2026-11-24T09:30:05Z",
        "2026-11-24T09:30:05Z",
    )
    assert (doc["rows_read"], doc["rows_written"], doc["duplicates"], doc["rejected"]) == (31, 31, 0, 0)
    assert (doc["kind"], doc["recorded_by"]) == ("reference", "json_to_parquet")
    assert (doc["partitions"], doc["output"]) == (["region=us"], "s3://processed/x")


def test_a_landing_date_dates_the_document() -> None:
    config = Config.from_environ(get_settings({}).lambda_environment())
    key = f"{config.landing_prefix}landing_date=2017-11-14/US_category_id.json"
    record = Record(S3Object("raw", key), config, RunInfo("r"), "req", T0)
    record.about(Version(None, "e1", 10, T0))
    entry = record.ledger("processed", None, rows=1, output="o")
    assert entry is not None and json.loads(entry[1])["arrival"] == "2017-11-14T00:00:00Z"


@pytest.mark.parametrize("verdict", [pytest.param(v, id=v) for v in ("quarantined", "superseded")])
def test_other_verdicts_carry_a_reason_and_no_counts(verdict: str) -> None:
    doc = _document(verdict, reason="code: detail", rows=None, output=None)
    assert (doc["rows_read"], doc["rows_written"], doc["duplicates"], doc["rejected"]) == (None,) * 4
    assert doc["partitions"] == [] and doc["reason"] == "code: detail"
    with pytest.raises(ValueError, match="needs a reason"):
        _document(verdict, reason=None)


def test_a_processed_verdict_has_no_reason() -> None:
    with pytest.raises(ValueError, match="has no reason"):
        _document(reason="x: y")


def test_interval_and_run_come_from_the_scheduled_payload() -> None:
    run = RunInfo("scheduled__2017-11-15", "2017-11-14T00:00:00Z", "2017-11-15T00:00:00Z")
    doc = _document(run=run)
    assert (doc["run_id"], doc["interval_start"], doc["interval_end"]) == (
        "scheduled__2017-11-15",
        "2017-11-14T00:00:00Z",
        "2017-11-15T00:00:00Z",
    )


def test_without_an_etag_there_is_no_document() -> None:
    config = Config.from_environ(get_settings({}).lambda_environment())
    record = Record(S3Object("raw", f"{PREFIX}US_category_id.json"), config, RunInfo("r"), "req", T0)
    assert record.ledger("superseded", "not_current: gone") is None


def test_the_lambda_modules_are_this_checkout() -> None:
    assert Path(po.__file__).parent == LAMBDA_SOURCE
