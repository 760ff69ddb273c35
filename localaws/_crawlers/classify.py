"""The crawler's built-in classifiers for text objects, as pure functions of an object's first bytes.

AWS tries its built-in classifiers in order and keeps the first that is certain: Parquet (the footer, read
in :mod:`.crawl`), then JSON, then CSV. Here:

* **JSON** — every non-empty line of the sample is a JSON object (one document per line, what the OpenX
  JSON SerDe reads); the schema is the union of the objects' keys, typed ``bigint`` / ``double`` /
  ``boolean`` / ``string`` / ``array<…>`` / ``struct<…>``.
* **CSV** — the delimiters AWS checks (comma, pipe, tab, semicolon, Ctrl-A); the one that splits every
  sampled record into the same number (at least two) of columns wins. Header: the first record is one when
  every field is a string (no number or boolean), valid as a column name, shorter than 150 characters
  (the last may be empty), and some later record has a field that is not a string; otherwise the columns
  are ``col0``, ``col1``, …. The SerDe is the one AWS picks: OpenCSVSerDe when fields are quoted,
  LazySimpleSerDe otherwise; a header becomes ``skip.header.line.count = 1``.

Values are typed like the classifier: whole numbers ``bigint``, other numbers ``double``, ``true`` /
``false`` ``boolean``, anything else ``string``; empty fields say nothing. A column seen with two types
becomes the wider (``bigint`` + ``double`` = ``double``) or ``string``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from localaws._catalog import StorageFormat, delimited_format, json_format, open_csv_format

#: Bytes of an object the classifiers look at (its beginning, as AWS's classifiers read it); records beyond
#: are estimated from the sample's average size.
SAMPLE_BYTES = 256 << 10
#: Delimiters the built-in CSV classifier checks, in AWS's order.
DELIMITERS = (",", "|", "\t", ";", "\x01")
_HEADER_CELL = re.compile(r"^[A-Za-z0-9_ .\-/#()]+$")
_MAX_HEADER_CHARS = 150
_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Classified:
    """What a classifier found in one object."""

    classification: str  # "csv" or "json"
    columns: tuple[tuple[str, str], ...]
    stored_as: StorageFormat
    #: Records in the sample, and whether the sample is the whole object.
    sample_records: int
    whole: bool
    delimiter: str = ""
    quoted: bool = False
    header: bool = False


# ---- value types -------------------------------------------------------------------------------------
def value_type(text: str) -> str | None:
    """The type the CSV classifier gives one field; None for an empty field (no evidence)."""
    value = text.strip()
    if not value:
        return None
    if _INTEGER.match(value):
        return "bigint" if -(2**63) <= int(value) < 2**63 else "string"
    if _DECIMAL.match(value):
        return "double"
    if value.lower() in ("true", "false"):
        return "boolean"
    return "string"


def combine(a: str | None, b: str | None) -> str | None:
    """Two observed types of one column as one: equal, numeric widened, else string."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if {a, b} == {"bigint", "double"}:
        return "double"
    if a.startswith("struct<") and b.startswith("struct<"):
        return a if len(a) >= len(b) else b  # the fuller struct; the SerDe leaves missing fields NULL
    return "string"


def json_type(value: Any) -> str | None:
    """The Glue type of a JSON value; None for null (no evidence)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if -(2**63) <= value < 2**63 else "double"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        item: str | None = None
        for element in value:
            item = combine(item, json_type(element))
        return f"array<{item or 'string'}>"
    fields = _json_fields([value])
    return "struct<" + ",".join(f"{name}:{kind}" for name, kind in fields) + ">"


def _json_fields(objects: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    types: dict[str, str | None] = {}
    for obj in objects:
        for key, value in obj.items():
            name = key.lower()
            types[name] = combine(types.get(name), json_type(value))
    return [(name, kind or "string") for name, kind in types.items()]


# ---- the classifiers ---------------------------------------------------------------------------------
def _lines(sample: bytes, whole: bool) -> list[str]:
    text = sample.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if not whole and lines and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample cut the last line
    return lines


def _json_objects(sample: bytes, whole: bool) -> list[dict[str, Any]] | None:
    """One JSON object per line, or a whole object that is one (pretty-printed) document."""
    lines = [line for line in _lines(sample, whole) if line.strip()]
    if not lines or not lines[0].lstrip().startswith("{"):
        return None
    try:
        values = [json.loads(line) for line in lines]
    except ValueError:
        if not whole:
            return None
        try:
            values = [json.loads(sample.decode("utf-8", errors="replace"))]
        except ValueError:
            return None
    return values if all(isinstance(v, dict) for v in values) else None


def classify_json(sample: bytes, whole: bool) -> Classified | None:
    objects = _json_objects(sample, whole)
    if not objects:
        return None
    lines = objects
    columns = tuple(_json_fields(objects))
    if not columns:
        return None
    return Classified(
        "json", columns, json_format({"paths": ",".join(n for n, _ in columns)}), len(lines), whole
    )


def _records(sample: bytes, whole: bool, delimiter: str) -> list[list[str]]:
    """The sample's records, quotes honoured; a record the sample cut is dropped."""
    text = sample.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    records = [r for r in reader if r and any(cell for cell in r)]
    if not whole and records:
        records = records[:-1]
    return records


def _is_header(first: list[str], rest: list[list[str]]) -> bool:
    cells = first[:-1] if first and not first[-1] else first
    if not cells or any(value_type(c) not in ("string",) for c in cells):
        return False
    if any(len(c) >= _MAX_HEADER_CHARS or not _HEADER_CELL.match(c.strip()) for c in cells):
        return False
    return any(value_type(cell) not in (None, "string") for record in rest for cell in record)


def _column_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.strip().lower())


def classify_csv(sample: bytes, whole: bool) -> Classified | None:
    best: tuple[str, list[list[str]]] | None = None
    for delimiter in DELIMITERS:
        records = _records(sample, whole, delimiter)
        widths = {len(r) for r in records}
        if len(records) >= 2 and len(widths) == 1 and widths.pop() >= 2:
            best = (delimiter, records)
            break
    if best is None:
        return None
    delimiter, records = best
    header = _is_header(records[0], records[1:])
    data = records[1:] if header else records
    width = len(records[0])
    names = [_column_name(c) or f"col{i}" for i, c in enumerate(records[0])] if header else []
    names = names or [f"col{i}" for i in range(width)]
    types: list[str | None] = [None] * width
    for record in data:
        for index, cell in enumerate(record):
            types[index] = combine(types[index], value_type(cell))
    quoted = _has_quoted_fields(sample, delimiter)
    skip = 1 if header else 0
    stored_as = open_csv_format(delimiter, skip_header=skip) if quoted else delimited_format(delimiter, skip)
    columns = tuple((name, kind or "string") for name, kind in zip(names, types, strict=True))
    return Classified("csv", columns, stored_as, len(data), whole, delimiter, quoted, header)


def _has_quoted_fields(sample: bytes, delimiter: str) -> bool:
    """A field that starts with a double quote (at a line start or after the delimiter)."""
    separator = re.escape(delimiter.encode())
    return re.search(rb"(?:^|[\r\n]|" + separator + rb')"', sample) is not None


def classify_text(sample: bytes, whole: bool) -> Classified | None:
    """JSON, then CSV, like AWS's order of built-in classifiers; None when neither is certain."""
    if sample.startswith(b"\xef\xbb\xbf"):
        sample = sample[3:]
    return classify_json(sample, whole) or classify_csv(sample, whole)
