"""Pure core of the JSON-to-Parquet Lambda: category reference JSON in, a typed Arrow table out.

No I/O, no clock, no environment lookups: the handler passes in the bytes, the key, the configuration and
the time, so every rule here is unit-tested on the real files without AWS.

Input: a YouTube ``videoCategoryListResponse`` document named ``XX_category_id.json`` (XX = region code).
Output: one row per ``items[]`` entry with :data:`OUTPUT_SCHEMA` (``category_id`` is an integer so the
join with the statistics' integer ``category_id`` works without catalog edits).

Text is UTF-8 or it is rejected with the byte offset (a UTF-8 BOM is tolerated), because pyarrow would
write other bytes into Parquet as they are and readers fail later. ``.json.gz`` files are gunzipped first
(:func:`gunzip`, bounded like the plain body).

Two parsers, one contract. :func:`transform` first tries pyarrow's JSON reader with an explicit schema
(fast and lean on large files); when that fails or anything looks off, the standard ``json`` module
re-parses the document and either builds the same table or raises :class:`Rejected` naming the first
offending item. So the strict path alone defines what is accepted, and rejection messages are exact.
pyarrow 25's reader crashes the process (segfault) on a body starting with ``null``: it only ever sees a
body whose first value starts with ``{``.

Rejection reasons (``Rejected.reason``): see :data:`REASONS`.

Layout in S3 (built by the functions at the end of this module):

- output: ``s3://<PROCESSED_BUCKET>/<PROCESSED_PREFIX>region=<xx>/`` holds exactly one object,
  :data:`OUTPUT_FILE`. A fixed name makes re-processing replace the region's data atomically (S3 PUT is
  atomic), so redelivered events, Airflow re-sends and even two concurrent runs for the same region never
  duplicate rows; different regions live under different prefixes and never touch each other.
- quarantine: ``s3://<RAW_BUCKET>/<QUARANTINE_PREFIX>reference_data/date=<YYYY-MM-DD>/<request id>/<key>``
  is a copy of the rejected raw object (``<key>`` = its full original key, so nothing collides) and
  ``…/<key>.error.json`` the error report (reason, detail, source, request id, time). The raw object is
  never moved or deleted. The quarantine prefix lies outside the landing prefix the S3 trigger watches.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from youtube_lake.columns import CATEGORY_REFERENCE_PARTITION, CATEGORY_REFERENCE_TYPES
from youtube_lake.invocation import S3Object
from youtube_lake.ledger import document_name
from youtube_lake.regions import is_region_code, normalize_region
from youtube_lake.uris import s3_uri

#: Rejection reason codes -> what they mean. The Airflow task shows ``reason`` when a record is quarantined.
REASONS: dict[str, str] = {
    "unknown_region": "the file name is not XX_category_id.json[.gz] with XX an allowed region code",
    "bad_landing_date": "a landing_date= folder of the key names no calendar date (YYYY-MM-DD)",
    "key_too_long": "the key does not fit the processed object's S3 metadata (2 KB)",
    "too_large": "the object (after gunzip) is larger than MAX_BODY_BYTES",
    "not_gzip": "a .json.gz object is not a complete gzip stream",
    "empty_file": "the object is empty or only whitespace",
    "not_utf8": "the text is not valid UTF-8 (the first bad byte and its offset are named)",
    "not_json": "the object is not valid JSON",
    "too_deep": "the JSON nests deeper than the parser's limit",
    "duplicate_key": "a JSON object has the same member twice (which one counts would be a guess)",
    "no_items": "the document has no non-empty 'items' list",
    "item_without_id": "an item is not an object or has no 'id'",
    "item_without_title": "an item has no non-empty string 'snippet.title'",
    "invalid_title": "a title is blank (white space or invisible characters) or holds a control character",
    "non_integer_id": "an item's 'id' is not a non-negative integer (a JSON string of digits or a number)",
    "invalid_field": "an item's 'etag', 'snippet.channelId' or 'snippet.assignable' has the wrong JSON type",
    "duplicate_id": "the same category id appears twice (the join would duplicate statistics rows)",
    "categories_dropped": "the file lacks over CATEGORY_DROP_THRESHOLD of the region's stored categories",
    "too_few_categories": "fewer than MIN_CATEGORIES categories (an implausible file, even as a first one)",
    "in_quarantine": "the object is itself under the quarantine prefix (processing it would loop)",
    "unreadable": "the parser failed on the input in a way no rule above names (the report has the error)",
}

#: Columns written, in order. ``region`` is the partition column (a path segment, not stored in the file).
OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("category_id", pa.int64(), nullable=False),
        pa.field("category_title", pa.string(), nullable=False),
        pa.field("assignable", pa.bool_()),
        pa.field("channel_id", pa.string()),
        pa.field("etag", pa.string()),
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("region", pa.string(), nullable=False),
    ]
)
PARTITION_COLUMN = CATEGORY_REFERENCE_PARTITION
OUTPUT_FILE = "categories.snappy.parquet"

#: Glue/Athena types of the data columns (the lake's contract) and of the partition column.
GLUE_COLUMN_TYPES: dict[str, str] = CATEGORY_REFERENCE_TYPES
GLUE_PARTITION_TYPES: dict[str, str] = {PARTITION_COLUMN: "string"}

#: Environment variables the handler needs (exactly ``Settings.lambda_environment()``'s keys).
ENV_VARS: tuple[str, ...] = (
    "PROCESSED_BUCKET",
    "PROCESSED_PREFIX",
    "RAW_BUCKET",
    "QUARANTINE_PREFIX",
    "GLUE_DATABASE",
    "GLUE_TABLE",
    "ALLOWED_REGIONS",
    "LEDGER_BUCKET",
    "LEDGER_PREFIX",
    "LANDING_PREFIX",
    "CATEGORY_DROP_THRESHOLD",
    "MIN_CATEGORIES",
    "MAX_BODY_BYTES",
)

_FILE_NAME_RE = re.compile(r"^([A-Za-z]{2})_category_id\.json(\.gz)?$")
GZIP_SUFFIX = ".gz"
_ID_RE = re.compile(r"^[0-9]{1,18}$")  # fits in a bigint
_ID_PATTERN = _ID_RE.pattern

# What the fast reader extracts; every other field of the document is ignored.
_ITEM_TYPE = pa.struct(
    [
        pa.field("id", pa.string()),
        pa.field("etag", pa.string()),
        pa.field(
            "snippet",
            pa.struct(
                [
                    pa.field("title", pa.string()),
                    pa.field("assignable", pa.bool_()),
                    pa.field("channelId", pa.string()),
                ]
            ),
        ),
    ]
)
_READ_SCHEMA = pa.schema([pa.field("items", pa.list_(_ITEM_TYPE))])


class Rejected(ValueError):
    """The input can never be converted: quarantine it, don't retry. ``reason`` is a key of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(RuntimeError):
    """The function's environment is incomplete or unsafe; raised so the invocation fails loudly."""


@dataclass(frozen=True)
class Config:
    """The Lambda's configuration, read from environment variables at call time."""

    processed_bucket: str
    processed_prefix: str
    raw_bucket: str
    quarantine_prefix: str
    glue_database: str
    glue_table: str
    allowed_regions: frozenset[str]
    ledger_bucket: str
    ledger_prefix: str
    landing_prefix: str
    category_drop_threshold: float
    min_categories: int
    max_body_bytes: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        missing = [name for name in ENV_VARS if not environ.get(name, "").strip()]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        value = {name: environ[name].strip() for name in ENV_VARS}
        regions = frozenset(r.strip().lower() for r in value["ALLOWED_REGIONS"].split(",") if r.strip())
        bad = sorted(r for r in regions if not is_region_code(r))
        if bad:
            raise ConfigError(f"ALLOWED_REGIONS holds invalid region codes: {', '.join(bad)}")
        if value["PROCESSED_BUCKET"] == value["RAW_BUCKET"]:
            # Writing Parquet next to the landing files could re-trigger the function forever.
            raise ConfigError(
                f"PROCESSED_BUCKET equals RAW_BUCKET ({value['RAW_BUCKET']!r}): refusing to write into the "
                "raw bucket"
            )
        if value["LEDGER_BUCKET"] == value["RAW_BUCKET"]:
            raise ConfigError(f"LEDGER_BUCKET equals RAW_BUCKET ({value['RAW_BUCKET']!r}): keep raw apart")
        try:
            threshold = float(value["CATEGORY_DROP_THRESHOLD"])
            max_bytes = int(value["MAX_BODY_BYTES"])
        except ValueError as error:
            raise ConfigError(f"CATEGORY_DROP_THRESHOLD / MAX_BODY_BYTES: {error}") from None
        minimum = value["MIN_CATEGORIES"]
        if not (minimum.isascii() and minimum.isdigit()) or int(minimum) < 1:
            raise ConfigError(f"MIN_CATEGORIES={minimum!r} must be a whole number of categories, at least 1")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"CATEGORY_DROP_THRESHOLD={threshold!r} is not a fraction between 0 and 1")
        if max_bytes < 1:
            raise ConfigError(f"MAX_BODY_BYTES={max_bytes!r} must be positive")
        return cls(
            processed_bucket=value["PROCESSED_BUCKET"],
            processed_prefix=_folder(value["PROCESSED_PREFIX"]),
            raw_bucket=value["RAW_BUCKET"],
            quarantine_prefix=_folder(value["QUARANTINE_PREFIX"]),
            glue_database=value["GLUE_DATABASE"],
            glue_table=value["GLUE_TABLE"],
            allowed_regions=regions,
            ledger_bucket=value["LEDGER_BUCKET"],
            ledger_prefix=_folder(value["LEDGER_PREFIX"]),
            landing_prefix=_folder(value["LANDING_PREFIX"]),
            category_drop_threshold=threshold,
            min_categories=int(minimum),
            max_body_bytes=max_bytes,
        )

    @property
    def table_uri(self) -> str:
        return s3_uri(self.processed_bucket, self.processed_prefix)

    def partition_uri(self, region: str) -> str:
        return f"{self.table_uri}{PARTITION_COLUMN}={region}/"

    def output_key(self, region: str) -> str:
        return f"{self.processed_prefix}{PARTITION_COLUMN}={region}/{OUTPUT_FILE}"

    def ledger_key(self, source_key: str, etag: str) -> str:
        return f"{self.ledger_prefix}{document_name(source_key, etag)}"

    def quarantine_keys(self, source_key: str, request_id: str, at: datetime) -> tuple[str, str]:
        """(copy key, report key) in the raw bucket for a rejected object; see the module docstring."""
        safe_request = re.sub(r"[^A-Za-z0-9-]", "_", request_id) or "unknown"
        base = f"{self.quarantine_prefix}reference_data/date={at:%Y-%m-%d}/{safe_request}/{source_key}"
        return base, f"{base}.error.json"


def _folder(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def region_from_key(key: str, allowed_regions: Collection[str]) -> str:
    """The lower-case region code from ``…/XX_category_id.json[.gz]``; Rejected otherwise."""
    name = key.rsplit("/", 1)[-1]
    match = _FILE_NAME_RE.fullmatch(name)
    if not match:
        raise Rejected("unknown_region", f"file name {name!r} is not XX_category_id.json[.gz]")
    region = normalize_region(match.group(1))
    if region is None or region not in allowed_regions:
        raise Rejected(
            "unknown_region",
            f"region {region!r} of {name!r} is not one of {', '.join(sorted(allowed_regions))}",
        )
    return region


def transform(
    body: bytes | bytearray,
    *,
    key: str,
    region: str,
    ingested_at: datetime,
    fast: bool = True,
    memory_pool: pa.MemoryPool | None = None,
) -> pa.Table:
    """Flatten a category document into :data:`OUTPUT_SCHEMA` rows, or raise :class:`Rejected`.

    ``fast=False`` forces the strict ``json`` parser (tests compare both paths). ``memory_pool`` is where
    the Arrow buffers go (the handler passes the system allocator to keep its peak low).
    """
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    if _first_value(body) is None:
        raise Rejected("empty_file", f"{len(body)} bytes, no JSON value")
    check_utf8(body)
    columns = _read_fast(body, memory_pool) if fast else None
    if columns is None:
        columns = _read_strict(body)
    ids, titles, assignable, channel_ids, etags = columns
    rows = len(ids)
    constant = {
        "source_key": pa.repeat(pa.scalar(key, pa.string()), rows, memory_pool=memory_pool),
        "ingested_at": pa.repeat(
            pa.scalar(ingested_at, OUTPUT_SCHEMA.field("ingested_at").type), rows, memory_pool=memory_pool
        ),
        "region": pa.repeat(pa.scalar(region, pa.string()), rows, memory_pool=memory_pool),
    }
    arrays = [ids, titles, assignable, channel_ids, etags, *constant.values()]
    return pa.Table.from_arrays(arrays, schema=OUTPUT_SCHEMA)


UTF8_BOM = b"\xef\xbb\xbf"
_JSON_VALUE_START = re.compile(rb"[^ \t\r\n]")  # JSON's four white-space characters
_UTF8_CHUNK = 1 << 20


def _bom_length(body: bytes | bytearray) -> int:
    return len(UTF8_BOM) if body[: len(UTF8_BOM)] == UTF8_BOM else 0


def _first_value(body: bytes | bytearray) -> int | None:
    """Offset of the first byte after the BOM that is not JSON white space; None when there is none."""
    found = _JSON_VALUE_START.search(body, _bom_length(body))
    return found.start() if found else None


def check_utf8(body: bytes | bytearray) -> None:
    """Raise ``not_utf8`` naming the first invalid byte and its offset (in chunks: no copy of the body)."""
    with memoryview(body) as view:
        size = len(view)
        position = 0
        while position < size:
            end = min(position + _UTF8_CHUNK, size)
            try:
                # Not final before the end: a character cut by the chunk boundary is read with the next chunk.
                _, consumed = codecs.utf_8_decode(view[position:end], "strict", end == size)
            except UnicodeDecodeError as error:
                offset = position + error.start
                raise Rejected("not_utf8", f"byte 0x{view[offset]:02X} at offset {offset}") from None
            position += consumed


def gunzip(data: bytes | bytearray, *, limit: int) -> bytearray:
    """The content of a gzip file (every member), or Rejected: ``not_gzip``, or ``too_large`` past ``limit``
    bytes (checked while inflating, so a small bomb never fills the memory)."""
    if not data:
        raise Rejected("empty_file", "0 bytes, no gzip stream")
    out = bytearray()
    pending: bytes | bytearray = data
    try:
        while pending:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer
            while not inflater.eof:
                if not pending:
                    raise Rejected("not_gzip", f"the gzip stream ends early, after {len(out)} content bytes")
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise Rejected("too_large", f"more than {limit} bytes once gunzipped")
                pending = inflater.unconsumed_tail
            pending = inflater.unused_data
    except zlib.error as error:
        raise Rejected("not_gzip", f"{error} (after {len(out)} content bytes)") from None
    return out


def check_category_drop(
    stored_ids: Collection[int], new_ids: Collection[int], *, threshold: float, region: str, holder: str
) -> None:
    """Rejected (``categories_dropped``) when the new file lacks more than ``threshold`` of the stored ids."""
    stored = set(stored_ids)
    if not stored:
        return
    missing = stored - set(new_ids)
    share = len(missing) / len(stored)
    if share > threshold:
        raise Rejected(
            "categories_dropped",
            f"{len(missing)} of the {len(stored)} categories region={region} holds (from {holder}) are "
            f"missing ({share:.0%} > CATEGORY_DROP_THRESHOLD {threshold:.0%}), e.g. {sorted(missing)[:5]}",
        )


def check_category_count(count: int, *, minimum: int, region: str) -> None:
    """Rejected (``too_few_categories``) below ``minimum`` categories: the drop check needs an earlier file,
    this one does not, so a region's first file with one category never becomes its reference."""
    if count < minimum:
        raise Rejected(
            "too_few_categories",
            f"{count} categor{'y' if count == 1 else 'ies'} where at least {minimum} are expected "
            f"(MIN_CATEGORIES) for region={region}: an implausible categories response",
        )


#: Characters a title may not consist of only: Unicode white space (``str.isspace``) and invisible
#: zero-width characters. One list, two regular-expression dialects (Python ``re`` and RE2 in pyarrow).
BLANK_CHARACTERS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
    + "\u180e\u200b\u200c\u200d\u2060\ufeff"
)
_BLANK_TITLE = re.compile(f"[{re.escape(BLANK_CHARACTERS)}]+")
_BLANK_TITLE_RE2 = "^[" + "".join(f"\\x{{{ord(c):X}}}" for c in BLANK_CHARACTERS) + "]+$"
#: C0 and C1 control characters (NUL, tab, line breaks, …): never part of a category name.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_RE2 = r"[\x{0}-\x{1F}\x{7F}-\x{9F}]"

_Columns = tuple[pa.Array, pa.Array, pa.Array, pa.Array, pa.Array]


def _read_fast(body: bytes | bytearray, memory_pool: pa.MemoryPool | None = None) -> _Columns | None:
    """pyarrow's reader; None whenever the document is not plainly valid (the strict path decides).

    It does not check UTF-8 (:func:`transform` does, first), and it only runs on a document whose first
    value is an object: pyarrow 25 segfaults on a body starting with ``null``.
    """
    first = _first_value(body)
    if first is None or body[first] != ord("{"):
        return None
    buffer = pa.py_buffer(body).slice(_bom_length(body))  # zero-copy views of the body
    try:
        table = pj.read_json(
            pa.BufferReader(buffer),
            read_options=pj.ReadOptions(block_size=len(buffer) + 1, use_threads=False),
            parse_options=pj.ParseOptions(
                explicit_schema=_READ_SCHEMA, unexpected_field_behavior="ignore", newlines_in_values=True
            ),
            memory_pool=memory_pool,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != 1 or table.column("items").num_chunks != 1 or table.column("items").null_count:
        return None
    # One block, so one chunk: flatten its values in place (combine_chunks would copy every item).
    (lists,) = table.column("items").chunks
    items = lists.flatten()
    del table, lists
    if len(items) == 0 or items.null_count:
        return None
    raw_ids = items.field("id")
    snippet = items.field("snippet")
    titles = snippet.field("title")
    if snippet.null_count or raw_ids.null_count or titles.null_count:
        return None
    if not pc.all(pc.match_substring_regex(raw_ids, _ID_PATTERN)).as_py():
        return None
    if not pc.all(pc.greater(pc.utf8_length(titles), 0)).as_py():
        return None
    for pattern in (_BLANK_TITLE_RE2, _CONTROL_RE2):
        if pc.any(pc.match_substring_regex(titles, pattern)).as_py():
            return None
    ids = pc.cast(raw_ids, pa.int64(), memory_pool=memory_pool)
    if pc.count_distinct(ids).as_py() != len(ids):
        return None
    return ids, titles, snippet.field("assignable"), snippet.field("channelId"), items.field("etag")


class _DuplicateKey(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateKey(name)
            seen.add(name)
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _read_strict(body: bytes | bytearray) -> _Columns:
    """The reference parser: the standard ``json`` module, checking every item, first failure wins."""
    try:
        # Decoded explicitly: json.loads(bytes) would guess UTF-16/32 from NUL bytes.
        decoded = bytes(memoryview(body)[_bom_length(body) :]).decode("utf-8")
        document = json.loads(
            decoded, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected("not_json", str(error)) from None
    except RecursionError:
        raise Rejected("too_deep", f"nesting deeper than {sys.getrecursionlimit()} levels") from None
    except _DuplicateKey as duplicate:
        raise Rejected("duplicate_key", f"member {duplicate.name!r} appears twice in one object") from None
    if not isinstance(document, dict):
        raise Rejected("no_items", f"top level is a JSON {_json_type(document)}, not an object")
    items = document.get("items")
    if not isinstance(items, list) or not items:
        found = "missing" if "items" not in document else f"a {_json_type(items)}" if items else "empty"
        raise Rejected("no_items", f"'items' is {found}")
    ids: list[int] = []
    titles: list[str] = []
    assignable: list[bool | None] = []
    channel_ids: list[str | None] = []
    etags: list[str | None] = []
    seen: dict[int, int] = {}
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict) or item.get("id") is None:
            raise Rejected("item_without_id", f"{where} has no 'id'")
        category_id = _integer_id(item["id"], where)
        snippet = item.get("snippet")
        title = snippet.get("title") if isinstance(snippet, dict) else None
        if not isinstance(title, str) or not title:
            raise Rejected("item_without_title", f"{where} (id {category_id}) has no snippet.title")
        _check_title(title, f"{where} (id {category_id})")
        flag = snippet.get("assignable") if isinstance(snippet, dict) else None
        channel = snippet.get("channelId") if isinstance(snippet, dict) else None
        etag = item.get("etag")
        if flag is not None and not isinstance(flag, bool):
            raise Rejected("invalid_field", f"{where}.snippet.assignable is {flag!r}, not a boolean")
        for name, text in (("snippet.channelId", channel), ("etag", etag)):
            if text is not None and not isinstance(text, str):
                raise Rejected("invalid_field", f"{where}.{name} is {text!r}, not a string")
        if category_id in seen:
            raise Rejected("duplicate_id", f"id {category_id} in items[{seen[category_id]}] and {where}")
        seen[category_id] = index
        ids.append(category_id)
        titles.append(title)
        assignable.append(flag)
        channel_ids.append(channel)
        etags.append(etag)
    return (
        pa.array(ids, pa.int64()),
        pa.array(titles, pa.string()),
        pa.array(assignable, pa.bool_()),
        pa.array(channel_ids, pa.string()),
        pa.array(etags, pa.string()),
    )


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _check_title(title: str, where: str) -> None:
    if _BLANK_TITLE.fullmatch(title):
        raise Rejected("invalid_title", f"{where} title {title!r} is blank")
    control = _CONTROL.search(title)
    if control:
        raise Rejected(
            "invalid_title",
            f"{where} title {title!r} holds control character U+{ord(control.group()):04X} "
            f"at position {control.start()}",
        )


def _integer_id(value: Any, where: str) -> int:
    """Category ids are JSON strings of digits in the real files; plain JSON integers are accepted too."""
    if isinstance(value, str) and _ID_RE.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18:
        return value
    raise Rejected("non_integer_id", f"{where}.id is {value!r}")


def error_report(
    *, rejected: Rejected, source: S3Object, request_id: str, at: datetime, copy_uri: str | None
) -> dict[str, Any]:
    """The JSON document stored next to a quarantined copy."""
    return {
        "reason": rejected.reason,
        "reason_text": REASONS[rejected.reason],
        "detail": rejected.detail,
        "source": {"bucket": source.bucket, "key": source.key, "version_id": source.version_id},
        # None when the object is too large for CopyObject (5 GB): the raw object itself is kept.
        "quarantined_copy": copy_uri,
        "request_id": request_id,
        "time": at.isoformat(),
    }
