"""The ingest plan: what one ``youtube_ingest`` run takes, written by ``plan_increment``, read by the Glue
job ``clean_statistics`` (``--plan_path``) and by ``record_verdicts``.

Objects are listed in arrival order ``(arrival, key)``. ``statistics`` are the files to take (with the
partitions their earlier versions wrote, rebuilt first); ``rebuild_sources`` are processed files read again
for those rebuilds (only their ``partitions``); ``reference`` are the category files the Lambda converts;
``ignored`` are objects the pipeline does not read, each with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from youtube_lake.timestamps import iso, parse_instant

VERSION = 1


class PlanError(ValueError):
    """A plan (or one of its entries) that breaks the format; the message names it."""


@dataclass(frozen=True)
class PlanObject:
    """One landing object version of a plan."""

    key: str
    uri: str
    etag: str
    size: int
    arrival: datetime
    kind: str
    region: str | None = None
    version_id: str | None = None
    #: ``LastModified`` as S3 listed it (ISO string, as the ledger stores it).
    last_modified: str | None = None
    #: Statistics: partitions earlier versions of this key wrote (``region=us/dt=2017-11-14``).
    previous_partitions: tuple[str, ...] = ()
    #: Rebuild sources: the partitions whose rows are read again.
    partitions: tuple[str, ...] = ()
    #: Ignored objects: ``code: detail``.
    reason: str | None = None
    #: Read from ``rebuild_sources`` (not written: the list says it).
    rebuild: bool = False

    @property
    def order(self) -> tuple[datetime, str]:
        """Arrival order: a later arrival wins; within one instant the key that sorts last."""
        return (self.arrival, self.key)

    def to_json(self, *extras: str) -> dict[str, Any]:
        """The common fields, plus ``extras`` (``previous_partitions``, ``partitions``, ``reason``)."""
        out: dict[str, Any] = {
            "key": self.key,
            "uri": self.uri,
            "etag": self.etag,
            "version_id": self.version_id,
            "size": self.size,
            "last_modified": self.last_modified,
            "arrival": iso(self.arrival),
            "kind": self.kind,
            "region": self.region,
        }
        for name in extras:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, rebuild: bool = False) -> PlanObject:
        try:
            return cls(
                key=str(data["key"]),
                uri=str(data["uri"]),
                etag=str(data["etag"]).strip('"'),
                size=int(data.get("size") or 0),
                arrival=parse_instant(str(data["arrival"])),
                kind=str(data.get("kind") or "other"),
                region=str(data["region"]).lower() if data.get("region") else None,
                version_id=data.get("version_id"),
                last_modified=data.get("last_modified"),
                previous_partitions=tuple(data.get("previous_partitions") or ()),
                partitions=tuple(data.get("partitions") or ()),
                reason=data.get("reason"),
                rebuild=rebuild,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PlanError(f"plan entry {dict(data)!r} is invalid: {error!r}") from None


@dataclass(frozen=True)
class IngestPlan:
    run_id: str
    bucket: str
    interval_start: str | None
    interval_end: str | None
    statistics: list[PlanObject] = field(default_factory=list)
    rebuild_sources: list[PlanObject] = field(default_factory=list)
    reference: list[PlanObject] = field(default_factory=list)
    ignored: list[PlanObject] = field(default_factory=list)
    #: Counts of the planner's view: the interval's drop, objects left for later runs, changed keys.
    drop: int = 0
    later: int = 0
    changed: int = 0

    @property
    def interval(self) -> tuple[str | None, str | None]:
        return (self.interval_start, self.interval_end)

    def summary(self) -> dict[str, Any]:
        return {
            "interval_start": self.interval_start,
            "interval_end": self.interval_end,
            "drop": self.drop,
            "statistics": len(self.statistics),
            "reference": len(self.reference),
            "ignored": len(self.ignored),
            "later": self.later,
            "changed": self.changed,
            "rebuild_sources": len(self.rebuild_sources),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "run_id": self.run_id,
            "bucket": self.bucket,
            **self.summary(),
            "statistics": [o.to_json("previous_partitions") for o in self.statistics],
            "rebuild_sources": [o.to_json("partitions") for o in self.rebuild_sources],
            "reference": [o.to_json() for o in self.reference],
            "ignored": [o.to_json("reason") for o in self.ignored],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1)

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any], source: str = "plan") -> IngestPlan:
        """A plan from its JSON (text or parsed); PlanError naming ``source`` when it is not one."""
        try:
            raw = json.loads(data) if isinstance(data, str | bytes) else data
            if not isinstance(raw, Mapping) or not isinstance(raw.get("statistics"), list):
                raise PlanError("no 'statistics' list")

            def objects(name: str, rebuild: bool = False) -> list[PlanObject]:
                items: Sequence[Mapping[str, Any]] = raw.get(name) or []
                return sorted(
                    (PlanObject.from_json(d, rebuild=rebuild) for d in items), key=lambda o: o.order
                )

            return cls(
                run_id=str(raw.get("run_id") or ""),
                bucket=str(raw.get("bucket") or ""),
                interval_start=raw.get("interval_start"),
                interval_end=raw.get("interval_end"),
                statistics=objects("statistics"),
                rebuild_sources=objects("rebuild_sources", rebuild=True),
                reference=objects("reference"),
                ignored=objects("ignored"),
                drop=int(raw.get("drop") or 0),
                later=int(raw.get("later") or 0),
                changed=int(raw.get("changed") or 0),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise PlanError(f"{source}: not an ingest plan ({error})") from None
