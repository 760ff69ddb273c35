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

Rejection reasons (``Rejected.reason``): see :data:`rejection.REASONS`. Where the table is written and
the function's configuration: :mod:`function_config`.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
import zlib
from collections.abc import Collection
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from rejection import Rejected

from youtube_lake.regions import normalize_region

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
