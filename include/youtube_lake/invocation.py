"""What Airflow sends the JSON-to-Parquet Lambda and what it answers.

The request is an S3 ``ObjectCreated`` event (what S3 sends on a drop), plus, on the scheduled path, an
``airflow`` member naming the run and its data interval for the ledger documents. The answer is
``{"records": [...], "converted": n, "quarantined": n, "superseded": n}`` with one record per object.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

RUN_MEMBER = "airflow"
CONVERTED = "converted"
QUARANTINED = "quarantined"
SUPERSEDED = "superseded"
STATUSES = (CONVERTED, QUARANTINED, SUPERSEDED)


class LambdaResultError(ValueError):
    """An answer that is not the Lambda's documented result (a changed function, a truncated payload)."""


@dataclass(frozen=True)
class S3Object:
    """One record of an invocation: the object to convert, and the version the record names, if any."""

    bucket: str
    key: str
    version_id: str | None = None
    #: Without quotes; names the version on an unversioned bucket (S3 events carry it).
    etag: str | None = None


@dataclass(frozen=True)
class RunInfo:
    """Who asks: an Airflow run (the scheduled path sends ``airflow``) or the S3 event path."""

    run_id: str
    interval_start: str | None = None
    interval_end: str | None = None

    @property
    def interval(self) -> tuple[str | None, str | None]:
        return (self.interval_start, self.interval_end)


def s3_event(
    bucket: str, objects: Iterable[str | Mapping[str, Any]], *, size: int = 0, run: RunInfo | None = None
) -> dict[str, Any]:
    """The S3 ``ObjectCreated`` event for ``objects``, as S3 sends it and the scheduled path imitates it.

    An object is a key or a planned object (``key``, ``size``, ``etag``, ``version_id``); keys are
    URL-encoded like S3 encodes them (spaces as ``+``). ``run`` adds the ``airflow`` member.
    """
    records = []
    for obj in objects:
        fields = {"key": obj} if isinstance(obj, str) else obj
        s3_object: dict[str, Any] = {
            "key": urllib.parse.quote_plus(str(fields["key"]), safe="/="),
            "size": int(fields.get("size") or size),
        }
        if fields.get("etag"):
            s3_object["eTag"] = str(fields["etag"]).strip('"')
        if fields.get("version_id"):
            s3_object["versionId"] = fields["version_id"]
        records.append(
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": s3_object},
            }
        )
    if not records:
        raise ValueError("an S3 event needs at least one key")
    event: dict[str, Any] = {"Records": records}
    if run is not None:
        event[RUN_MEMBER] = asdict(run)
    return event


def parse_event(event: Mapping[str, Any]) -> list[S3Object]:
    """Every record of an S3 event (or Airflow's event-shaped payload); keys arrive URL-encoded.

    An S3 ``s3:TestEvent`` (sent when a notification is configured) has no records and yields none. A
    malformed event raises ValueError: there is no object to quarantine, so the invocation fails and the
    on-failure destination keeps the event.
    """
    if not isinstance(event, Mapping):
        raise ValueError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("Event") == "s3:TestEvent":
        return []
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("event has no 'Records' list (expected an S3 event notification)")
    objects = []
    for index, record in enumerate(records):
        try:
            s3 = record["s3"]
            bucket = s3["bucket"]["name"]
            raw_key = s3["object"]["key"]
        except (KeyError, TypeError):
            raise ValueError(f"Records[{index}] has no s3.bucket.name / s3.object.key") from None
        if not isinstance(bucket, str) or not isinstance(raw_key, str) or not bucket or not raw_key:
            raise ValueError(f"Records[{index}]: bucket and key must be non-empty strings")
        version = s3["object"].get("versionId") or None
        etag = s3["object"].get("eTag") or None
        if not isinstance(version, str | None) or not isinstance(etag, str | None):
            raise ValueError(f"Records[{index}]: versionId and eTag must be strings")
        objects.append(
            S3Object(bucket, urllib.parse.unquote_plus(raw_key), version, etag.strip('"') if etag else None)
        )
    return objects


def parse_run(event: Mapping[str, Any], request_id: str) -> RunInfo:
    """The ``airflow`` member of a scheduled invocation (run id and data interval), else the event path's
    ``s3-event:<request id>``. A malformed member raises ValueError (the invocation fails)."""
    airflow = event.get(RUN_MEMBER)
    if airflow is None:
        return RunInfo(f"s3-event:{request_id}")
    run_id = airflow.get("run_id") if isinstance(airflow, Mapping) else None
    if not isinstance(run_id, str) or not run_id:
        raise ValueError("event member 'airflow' must be an object with a non-empty string 'run_id'")
    bounds = [airflow.get(name) for name in ("interval_start", "interval_end")]
    if any(b is not None and not isinstance(b, str) for b in bounds):
        raise ValueError("event member 'airflow': interval_start / interval_end must be strings")
    return RunInfo(run_id, *bounds)


def event_keys(payload: str) -> list[str]:
    """The keys of an event payload (decoded), for messages; empty when it is not an event."""
    try:
        return [o.key for o in parse_event(json.loads(payload))]
    except (ValueError, TypeError):
        return []


@dataclass(frozen=True)
class RecordResult:
    """The answer for one object."""

    bucket: str
    key: str
    status: str
    version_id: str | None = None
    etag: str | None = None
    region: str | None = None
    rows: int = 0
    #: The Parquet object's ``s3://`` URI.
    output: str | None = None
    #: ``<code>: <detail>`` for every status but a plain conversion.
    reason: str | None = None
    quarantine_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as the Lambda answers it (and logs it), members in the documented order."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "status": self.status,
            "region": self.region,
            "rows": self.rows,
            "output": self.output,
            "reason": self.reason,
            "quarantine_key": self.quarantine_key,
        }


@dataclass(frozen=True)
class LambdaResult:
    records: tuple[RecordResult, ...] = ()

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"records": [r.to_json() for r in self.records]}
        for status in STATUSES:
            out[status] = self.count(status)
        return out

    @classmethod
    def from_json(cls, payload: str | bytes | Mapping[str, Any]) -> LambdaResult:
        """The result, checked for its documented shape; :class:`LambdaResultError` otherwise.

        A quarantined or superseded file is a verdict, not an error: only an answer that is not the
        documented result raises.
        """
        text = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        try:
            result = json.loads(text) if isinstance(payload, str | bytes) else payload
            records = result["records"]
            if not isinstance(records, list):
                raise TypeError("'records' is not a list")
        except (ValueError, TypeError, KeyError) as error:
            shown = text[:500] if isinstance(text, str) else text[:500].decode("utf-8", "replace")
            raise LambdaResultError(f"unexpected Lambda result (no 'records'): {shown!r}") from error
        out = []
        for index, record in enumerate(records):
            status = record.get("status") if isinstance(record, dict) else None
            if status not in STATUSES or not isinstance(record.get("key"), str):
                raise LambdaResultError(
                    f"unexpected Lambda result: records[{index}] has no key or its status {status!r} is not "
                    f"one of {', '.join(STATUSES)}: {json.dumps(record)[:500]}"
                )
            if status != CONVERTED and not record.get("reason"):
                raise LambdaResultError(
                    f"unexpected Lambda result: records[{index}] is {status} without a reason"
                )
            out.append(
                RecordResult(
                    bucket=str(record.get("bucket") or ""),
                    key=record["key"],
                    status=status,
                    version_id=record.get("version_id"),
                    etag=record.get("etag"),
                    region=record.get("region"),
                    rows=int(record.get("rows") or 0),
                    output=record.get("output"),
                    reason=record.get("reason"),
                    quarantine_key=record.get("quarantine_key"),
                )
            )
        return cls(tuple(out))

    def quarantines(self) -> list[dict[str, Any]]:
        """What ``record_verdicts`` reports of each quarantined record."""
        return [
            {"key": r.key, "region": r.region, "reason": r.reason, "output": r.quarantine_key}
            for r in self.records
            if r.status == QUARANTINED
        ]
