"""Which landing objects an ingest run takes: arrival, arrival order, and the plan (pure, no AWS).

See ``docs/daily-pipeline.md``. An object's *arrival* is the date of a ``landing_date=YYYY-MM-DD/`` path
segment below its landing prefix, else its S3 ``LastModified``. A run for ``[start, end)`` takes every
landing object whose arrival is before ``end`` and whose current version (key + ETag) has no verdict in the
ledger, in arrival order ``(arrival, key)``. The planner sees the whole raw bucket: an object outside the
landing prefixes (and outside the prefixes the pipeline writes itself) is ignored with a reason naming the
landing prefixes, so no drop goes unreported. The functions here get listings as plain values; the DAG's
tasks do the listing (``youtube_etl.ingest``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from youtube_lake.extract import complete_region_days, extract_verdict
from youtube_lake.landing import (
    OTHER,
    REFERENCE,
    REFERENCE_SUFFIXES,
    STATISTICS,
    STATISTICS_SUFFIXES,
    LandingDateError,
    arrival_or_last_modified,
    is_folder_marker,
    landing_date,
    region_folder,
)
from youtube_lake.ledger import document_name, key_hash, parse_listing
from youtube_lake.partitions import partition_regions
from youtube_lake.plan import IngestPlan, PlanError, PlanObject
from youtube_lake.timestamps import iso
from youtube_lake.uris import s3_uri

#: The reason code of an object outside the landing prefixes.
OUTSIDE_LANDING = "outside_landing_prefixes"


@dataclass(frozen=True)
class LandingKind:
    """What one landing prefix holds: the kind of its objects and the suffixes the pipeline reads.

    Gzip-compressed drops (``.csv.gz``, ``.json.gz``) are read like their plain forms: one declaration per
    prefix, read by the planner.
    """

    kind: str
    prefix: str
    suffixes: tuple[str, ...]
    #: The object must sit in a ``region=xx/`` folder (the statistics CSVs; category files carry the
    #: region in their name, which the Lambda checks).
    needs_region_folder: bool
    #: The suffix must match in case too. Category files: the S3 notification's suffix filter is
    #: case-sensitive, so the planner takes exactly the keys the event path gets (``.JSON`` is ignored with
    #: the reason on both paths instead of being converted on one of them only).
    exact_suffix: bool = False
    #: The prefix also holds youtube_extract's API pages and manifests (``youtube_lake.extract``): a page is
    #: statistics, taken once its region-day's manifest exists; a manifest is ignored with its reason.
    extract_pages: bool = False

    def has_suffix(self, name: str) -> bool:
        return (name if self.exact_suffix else name.lower()).endswith(self.suffixes)


def landing_kinds(raw_statistics: str, raw_reference: str) -> tuple[LandingKind, LandingKind]:
    return (
        LandingKind(
            STATISTICS, raw_statistics, STATISTICS_SUFFIXES, needs_region_folder=True, extract_pages=True
        ),
        LandingKind(
            REFERENCE, raw_reference, REFERENCE_SUFFIXES, needs_region_folder=False, exact_suffix=True
        ),
    )


@dataclass(frozen=True)
class LandingObject:
    """One current landing object version as S3 lists it."""

    key: str
    #: Without the quotes S3 puts around it.
    etag: str
    size: int
    last_modified: datetime
    version_id: str | None = None

    def __post_init__(self) -> None:
        if self.last_modified.tzinfo is None:
            raise PlanError(f"{self.key}: LastModified {self.last_modified} has no time zone")
        object.__setattr__(self, "etag", self.etag.strip('"'))

    @property
    def ledger_name(self) -> str:
        return document_name(self.key, self.etag)


@dataclass(frozen=True)
class Classified:
    obj: LandingObject
    kind: str
    arrival: datetime
    region: str | None = None
    #: ``code: detail`` when the pipeline does not read the object (it is ignored with this reason).
    ignored: str | None = None
    #: False for an object outside the landing prefixes: it belongs to no interval (its arrival is its
    #: ``LastModified``, for the ledger) and is ignored by the first run that lists it.
    landing: bool = True

    @property
    def order(self) -> tuple[datetime, str]:
        """Arrival order: later arrival wins; within one instant the key that sorts last wins."""
        return (self.arrival, self.obj.key)


def outside_reason(kinds: Sequence[LandingKind]) -> str:
    """Why an object outside the landing prefixes is ignored: it names them."""
    return f"{OUTSIDE_LANDING}: not below the landing prefixes ({', '.join(k.prefix for k in kinds)})"


def classify(obj: LandingObject, kinds: Sequence[LandingKind]) -> Classified:
    """Kind, arrival, region, and the reason when the object is ignored."""
    kind = next((k for k in kinds if obj.key.startswith(k.prefix)), None)
    if kind is None:
        when = obj.last_modified.astimezone(UTC)
        return Classified(obj, OTHER, when, None, outside_reason(kinds), landing=False)
    # A malformed landing date dates the object by LastModified: it is ignored with the reason below.
    when = arrival_or_last_modified(obj.key, obj.last_modified, kind.prefix)
    name = obj.key.rsplit("/", 1)[-1]
    region = region_folder(obj.key)
    reason = None
    try:
        landing_date(obj.key, kind.prefix)
    except LandingDateError as error:
        reason = f"bad_landing_date: {obj.key}: {error}"
    extract_rule = extract_verdict(obj.key, kind.prefix, {}) if kind.extract_pages else None
    if reason is None and extract_rule is not None and extract_rule[0] == "ignore":
        reason = extract_rule[1]  # a manifest: it publishes pages, it is no drop itself
    if reason is None and extract_rule is None and not kind.has_suffix(name):
        reason = f"wrong_suffix: {name!r} does not end with {' or '.join(kind.suffixes)}"
    if reason is None and kind.needs_region_folder and region is None:
        reason = f"no_region_folder: {obj.key!r} is not in a region=xx/ folder (two letters)"
    return Classified(obj, kind.kind if reason is None else OTHER, when, region, reason)


def is_marker(obj: LandingObject) -> bool:
    """A folder marker, no drop: a ``folder/`` key, or an empty ``folder_$folder$`` key that Hadoop file
    systems (EMRFS, Glue's Spark writers) put beside the folders they write (``quarantine_$folder$`` lands
    at the bucket root, outside ``quarantine/``). One with bytes in it is a drop like any other."""
    return is_folder_marker(obj.key) or (obj.key.endswith("_$folder$") and obj.size == 0)


def pipeline_owned(key: str, owned_prefixes: Sequence[str]) -> bool:
    """An object the pipeline wrote into the raw bucket itself (quarantine copies, error reports, rejected
    rows): not a drop, so it gets no verdict."""
    return key.startswith(tuple(owned_prefixes))


def run_interval(
    start: datetime | None, end: datetime | None, run_after: datetime | None
) -> tuple[datetime, datetime]:
    """A run's data interval; a run without one (UI trigger with no logical date) gets the last whole UTC
    day before it was triggered, as a manual run with a logical date does."""
    if start is not None and end is not None:
        if start >= end:
            raise PlanError(f"empty data interval [{start}, {end}) — schedule with CronDataIntervalTimetable")
        return start, end
    if run_after is None:
        raise PlanError("the run has neither a data interval nor a run_after date")
    end = datetime.combine(run_after.astimezone(UTC).date(), time.min, tzinfo=UTC)
    return end - timedelta(days=1), end


def in_interval(arrived: datetime, start: datetime, end: datetime) -> bool:
    return start <= arrived < end


def drop_keys(
    objects: Iterable[LandingObject],
    prefixes: Sequence[str],
    start: datetime,
    end: datetime,
    extract: tuple[str, str] | None = None,
) -> list[str]:
    """Keys of the interval's drop as ``wait_for_drop`` counts it: objects below ``prefixes`` arriving in
    ``[start, end)``. With ``extract`` (the statistics and reference prefixes the extract lands in), what
    an extract is still publishing does not count: the pages of a region-day with no manifest yet, and
    the category file it lands before that manifest (``docs/extract.md``)."""
    objects = [o for o in objects if not is_folder_marker(o.key)]
    pages, reference = extract or ("", "")
    complete = complete_region_days((o.key for o in objects), pages) if extract else {}
    fetching: set[tuple[Any, str]] = set()
    for o in objects if extract else []:
        verdict = extract_verdict(o.key, pages, complete)
        if verdict is not None and verdict[0] == "wait":
            fetching.add((landing_date(o.key, pages), region_folder(o.key) or ""))
    keys = []
    for o in objects:
        prefix = next((p for p in prefixes if o.key.startswith(p)), None)
        if prefix is None or not in_interval(
            arrival_or_last_modified(o.key, o.last_modified, prefix), start, end
        ):
            continue
        if extract and o.key.startswith(pages):
            verdict = extract_verdict(o.key, pages, complete)
            if verdict is not None and verdict[0] == "wait":
                continue
        if fetching and o.key.startswith(reference):
            region = o.key.rsplit("/", 1)[-1].split("_", 1)[0].lower()
            try:
                day = landing_date(o.key, reference)
            except LandingDateError:
                day = None
            if (day, region) in fetching:
                continue
        keys.append(o.key)
    return keys


@dataclass(frozen=True)
class PlannedObject:
    """An object a run takes, with what clean_statistics needs to rebuild partitions of its old versions."""

    item: Classified
    #: Processed partitions earlier versions of this key wrote (``region=us/dt=2017-11-14``): rebuilt first.
    previous_partitions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    start: datetime
    end: datetime
    statistics: list[PlannedObject] = field(default_factory=list)
    reference: list[Classified] = field(default_factory=list)
    ignored: list[Classified] = field(default_factory=list)
    #: Objects with arrival in [start, end): the interval's drop (processed before or not).
    drop: list[Classified] = field(default_factory=list)
    #: Objects without a verdict that arrive at or after ``end``, and extract pages of a region-day with no
    #: manifest yet (left for later runs).
    later: list[Classified] = field(default_factory=list)
    #: Already processed objects whose rows must be read again to rebuild ``rebuild_partitions``.
    rebuild_sources: list[tuple[Classified, tuple[str, ...]]] = field(default_factory=list)

    def with_versions(self, versions: Mapping[str, str | None]) -> Plan:
        """The plan with the S3 version id of each taken object (from HEAD requests)."""

        def versioned(item: Classified) -> Classified:
            return replace(item, obj=replace(item.obj, version_id=versions.get(item.obj.key)))

        return replace(
            self,
            statistics=[replace(p, item=versioned(p.item)) for p in self.statistics],
            reference=[versioned(item) for item in self.reference],
        )

    @property
    def changed_keys(self) -> list[str]:
        return [p.item.obj.key for p in self.statistics if p.previous_partitions]

    def ingest_plan(self, bucket: str, run_id: str) -> IngestPlan:
        """The plan file clean_statistics reads (``--plan_path``) and record_verdicts reads back."""
        return IngestPlan(
            run_id=run_id,
            bucket=bucket,
            interval_start=self.start.isoformat(),
            interval_end=self.end.isoformat(),
            statistics=[
                plan_object(p.item, bucket, previous_partitions=p.previous_partitions)
                for p in self.statistics
            ],
            rebuild_sources=[
                plan_object(item, bucket, partitions=parts, rebuild=True)
                for item, parts in self.rebuild_sources
            ],
            reference=[plan_object(item, bucket) for item in self.reference],
            ignored=[plan_object(item, bucket, reason=item.ignored) for item in self.ignored],
            drop=len(self.drop),
            later=len(self.later),
            changed=len(self.changed_keys),
        )


def plan_object(item: Classified, bucket: str, **extra: Any) -> PlanObject:
    """A classified landing object as the plan file holds it."""
    obj = item.obj
    return PlanObject(
        key=obj.key,
        uri=s3_uri(bucket, obj.key),
        etag=obj.etag,
        size=obj.size,
        arrival=item.arrival,
        kind=item.kind,
        region=item.region,
        version_id=obj.version_id,
        last_modified=iso(obj.last_modified),
        **extra,
    )


def plan_increment(
    objects: Iterable[LandingObject],
    ledger_names: Iterable[str],
    start: datetime,
    end: datetime,
    kinds: Sequence[LandingKind],
    owned_prefixes: Sequence[str] = (),
) -> Plan:
    """What a run for ``[start, end)`` takes, from the raw bucket's listing and the ledger listing.

    Taken: arrival before ``end`` and no verdict for (key, ETag). Statistics and reference objects are
    returned in arrival order; objects the pipeline does not read are ``ignored`` with their reason (they get
    an ``ignored`` verdict, so each is reported once): in a landing prefix once their arrival is before
    ``end``, outside the landing prefixes by the first run that lists them (no interval owns them, and an
    ``ignored`` verdict changes no data). Folder markers and objects under ``owned_prefixes`` (what the
    pipeline writes into the raw bucket itself) are not drops and get no verdict. The rebuild of changed
    objects needs the ledger documents of earlier versions: :func:`add_rebuilds` completes the plan.
    """
    if start >= end:
        raise PlanError(f"empty data interval [{start}, {end})")
    verdicts = parse_listing(ledger_names)
    plan = Plan(start=start, end=end)
    objects = list(objects)
    pages_prefix = next((k.prefix for k in kinds if k.extract_pages), None)
    published = complete_region_days((o.key for o in objects), pages_prefix) if pages_prefix else {}
    items = sorted(
        (
            classify(o, kinds)
            for o in objects
            if not is_marker(o) and not pipeline_owned(o.key, owned_prefixes)
        ),
        key=lambda c: c.order,
    )
    for item in items:
        if item.landing and in_interval(item.arrival, start, end):
            plan.drop.append(item)
        if item.obj.etag in verdicts.get(key_hash_of(item.obj), set()):
            continue
        rule = extract_verdict(item.obj.key, pages_prefix, published) if pages_prefix else None
        if rule is not None and rule[0] == "ignore" and not item.ignored:
            item = replace(item, kind=OTHER, ignored=rule[1])  # a page of a superseded attempt
        if (item.landing and item.arrival >= end) or (rule is not None and rule[0] == "wait"):
            plan.later.append(item)
        elif item.ignored:
            plan.ignored.append(item)
        elif item.kind == STATISTICS:
            plan.statistics.append(PlannedObject(item))
        else:
            plan.reference.append(item)
    return plan


def key_hash_of(obj: LandingObject) -> str:
    return key_hash(obj.key)


def _documents_by_hash(ledger_names: Iterable[str]) -> dict[str, list[str]]:
    by_hash: dict[str, list[str]] = {}
    for name in ledger_names:
        by_hash.setdefault(name.rsplit("/", 1)[-1].split("_", 1)[0], []).append(name)
    return by_hash


def previous_documents(plan: Plan, ledger_names: Iterable[str]) -> dict[str, list[str]]:
    """Planned statistics keys that had other versions with a verdict -> those ledger documents.

    Their ``partitions`` say what the earlier versions wrote (:func:`add_rebuilds`).
    """
    by_hash = _documents_by_hash(ledger_names)
    out: dict[str, list[str]] = {}
    for planned in plan.statistics:
        obj = planned.item.obj
        earlier = [n for n in by_hash.get(key_hash_of(obj), []) if n.rsplit("/", 1)[-1] != obj.ledger_name]
        if earlier:
            out[obj.key] = sorted(earlier)
    return out


def contributor_documents(
    plan: Plan,
    landing: Iterable[LandingObject],
    ledger_names: Iterable[str],
    regions: set[str],
    kinds: Sequence[LandingKind],
) -> list[str]:
    """Ledger documents of the other statistics objects of ``regions``: who may have written a partition.

    Partitions are per region, so only that region's objects can have written one. For each key: the
    document of its current version, or, when that version has none yet, those of its earlier versions.
    """
    by_hash = _documents_by_hash(ledger_names)
    planned = {p.item.obj.key for p in plan.statistics}
    names: list[str] = []
    for obj in landing:
        if is_folder_marker(obj.key) or obj.key in planned:
            continue
        item = classify(obj, kinds)
        if item.kind != STATISTICS or item.region not in regions:
            continue
        documents = by_hash.get(key_hash_of(obj), [])
        current = [n for n in documents if n.rsplit("/", 1)[-1] == obj.ledger_name]
        names.extend(current or documents)
    return sorted(names)


def add_rebuilds(
    plan: Plan,
    previous: Mapping[str, Sequence[Mapping[str, Any]]],
    contributors: Sequence[Mapping[str, Any]],
    landing: Iterable[LandingObject],
    kinds: Sequence[LandingKind],
) -> Plan:
    """The plan with the partitions earlier versions of changed keys wrote, and what to rebuild them from.

    ``previous``: planned key -> the ledger documents of its earlier versions. ``contributors``: ledger
    documents of other statistics objects (:func:`contributor_documents`). A partition an earlier version
    wrote is rebuilt from every current, processed object that wrote it (read again) plus this run's
    objects, so rows the new version no longer holds disappear as in a full run. A contributor whose current
    version has no verdict (it changed too, arriving at or after ``end``) is taken now, and the partitions
    of its earlier versions are rebuilt as well.
    """
    current = {o.key: o for o in landing if not is_folder_marker(o.key)}
    docs_by_key: dict[str, list[Mapping[str, Any]]] = {}
    for doc in contributors:
        docs_by_key.setdefault(str(doc.get("key")), []).append(doc)

    def partitions_of(docs: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
        return tuple(sorted({p for doc in docs for p in doc.get("partitions") or []}))

    statistics = [
        replace(p, previous_partitions=partitions_of(previous.get(p.item.obj.key, [])))
        for p in plan.statistics
    ]
    planned = {p.item.obj.key for p in statistics}
    rebuild = {part for p in statistics for part in p.previous_partitions}
    grew = bool(rebuild)
    while grew:  # a contributor taken now widens the rebuild
        grew = False
        for key, docs in sorted(docs_by_key.items()):
            obj = current.get(key)
            if obj is None or key in planned or not rebuild & set(partitions_of(docs)):
                continue
            if any(str(d.get("etag", "")).strip('"') == obj.etag for d in docs):
                continue
            earlier = partitions_of(d for d in docs if d.get("verdict") == "processed")
            statistics.append(PlannedObject(classify(obj, kinds), previous_partitions=earlier))
            planned.add(key)
            grew = grew or not set(earlier) <= rebuild
            rebuild.update(earlier)
    sources: list[tuple[Classified, tuple[str, ...]]] = []
    for key, docs in sorted(docs_by_key.items()):
        obj = current.get(key)
        if obj is None or key in planned:
            continue
        mine = [
            d
            for d in docs
            if str(d.get("etag", "")).strip('"') == obj.etag and d.get("verdict") == "processed"
        ]
        overlap = tuple(sorted(rebuild & set(partitions_of(mine))))
        if overlap:
            sources.append((classify(obj, kinds), overlap))
    statistics.sort(key=lambda p: p.item.order)
    sources.sort(key=lambda s: s[0].order)
    return replace(plan, statistics=statistics, rebuild_sources=sources)


def plan_from_listings(
    objects: Sequence[LandingObject],
    ledger_names: Sequence[str],
    start: datetime,
    end: datetime,
    kinds: Sequence[LandingKind],
    read_documents: Callable[[list[str]], list[dict[str, Any]]],
    owned_prefixes: Sequence[str] = (),
) -> Plan:
    """:func:`plan_increment` plus the rebuilds of changed objects, reading only the ledger documents those
    need (``read_documents``: ledger keys -> documents, in order)."""
    plan = plan_increment(objects, ledger_names, start, end, kinds, owned_prefixes)
    previous_names = previous_documents(plan, ledger_names)
    if not previous_names:
        return plan
    flat = [n for group in previous_names.values() for n in group]
    by_name = dict(zip(flat, read_documents(flat), strict=True))
    previous = {key: [by_name[n] for n in group] for key, group in previous_names.items()}
    regions = partition_regions(
        p for docs in previous.values() for d in docs for p in d.get("partitions") or []
    )
    names = contributor_documents(plan, objects, ledger_names, regions, kinds) if regions else []
    return add_rebuilds(plan, previous, read_documents(names) if names else [], objects, kinds)
