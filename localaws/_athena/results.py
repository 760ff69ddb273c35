"""Results as Athena returns them: column metadata (Trino's type names) and values as text."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ParseError

from localaws._catalog import UnsupportedType, glue_type

#: Glue type names Trino (and so Athena's ``ColumnInfo``) spells differently.
_TRINO_NAMES = {"string": "varchar", "int": "integer", "float": "real", "binary": "varbinary"}
#: Athena's names for what a query may return but no Glue column type says alike, checked in order.
_QUERY_TYPES: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
    (pa.types.is_null, "unknown"),
    (lambda t: pa.types.is_timestamp(t) and t.tz is not None, "timestamp with time zone"),
    (pa.types.is_time, "time"),
    (lambda t: pa.types.is_duration(t) or pa.types.is_interval(t), "interval day to second"),
    (pa.types.is_struct, "row"),
    (pa.types.is_map, "map"),
    (lambda t: pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t), "array"),
)


def arrow_to_athena(arrow_type: pa.DataType) -> str:
    """The type name Athena puts in ``ColumnInfo.Type``: Trino's names, without parameters (``decimal``,
    ``array``) — the Glue type the column would be stored as, spelled like Trino."""
    if pa.types.is_dictionary(arrow_type):
        return arrow_to_athena(arrow_type.value_type)
    for matches, name in _QUERY_TYPES:
        if matches(arrow_type):
            return name
    try:
        name = glue_type(arrow_type).split("(", 1)[0]
    except UnsupportedType:
        return "varchar"
    return _TRINO_NAMES.get(name, name)


def glue_to_athena(column_type: str) -> str:
    """A Glue column type as Athena shows it in DESCRIBE / view metadata (``string`` -> ``varchar``)."""
    try:
        return exp.DataType.build(column_type, dialect="hive").sql("trino").lower()
    except ParseError:
        return column_type


def column_info(name: str, arrow_type: pa.DataType) -> dict[str, Any]:
    """One ``ResultSetMetadata.ColumnInfo`` entry like Athena's."""
    athena_type = arrow_to_athena(arrow_type)
    precision, scale = {
        "varchar": (2147483647, 0),
        "bigint": (19, 0),
        "integer": (10, 0),
        "smallint": (5, 0),
        "tinyint": (3, 0),
        "double": (17, 0),
        "real": (9, 0),
        "timestamp": (3, 0),
    }.get(athena_type, (0, 0))
    if pa.types.is_decimal(arrow_type):
        precision, scale = arrow_type.precision, arrow_type.scale
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": athena_type,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": athena_type == "varchar",
    }


# ---- values as Athena renders them ----------------------------------------------------------------


def java_double(value: float, single: bool = False) -> str:
    """``Double.toString`` (Trino's text for double): ``1.5``, ``1.0E7``, ``NaN``, ``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(float(value)) if not single else _shortest_float32(value)
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    mantissa, _, exponent = f"{Decimal(text):E}".partition("E")
    digits = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    if "." not in digits:
        digits += ".0"
    return f"{digits}E{int(exponent)}"


def _shortest_float32(value: float) -> str:
    import numpy as np

    return repr(float(np.format_float_positional(np.float32(value), unique=True, trim="-")))


def render_value(value: Any, arrow_type: pa.DataType) -> str | None:
    """A Python value from Arrow as the text Athena returns in ``VarCharValue`` (None is SQL NULL)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value, single=pa.types.is_float32(arrow_type))
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
        if value.tzinfo is not None:
            text += (
                " UTC" if value.utcoffset() is not None and not value.utcoffset() else value.strftime(" %z")
            )
        return text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, list):
        item = arrow_type.value_type if hasattr(arrow_type, "value_type") else pa.string()
        return "[" + ", ".join(_nested(v, item) for v in value) + "]"
    if isinstance(value, dict):
        fields = {arrow_type.field(i).name: arrow_type.field(i).type for i in range(arrow_type.num_fields)}
        return (
            "{" + ", ".join(f"{k}={_nested(v, fields.get(k, pa.string()))}" for k, v in value.items()) + "}"
        )
    if isinstance(value, tuple) and pa.types.is_map(arrow_type):
        return "{" + ", ".join(f"{k}={_nested(v, arrow_type.item_type)}" for k, v in value) + "}"
    return str(value)


def _nested(value: Any, arrow_type: pa.DataType) -> str:
    rendered = render_value(value, arrow_type)
    return "null" if rendered is None else rendered


def render_rows(table: pa.Table) -> list[list[str | None]]:
    """Every row of an Arrow table as Athena's text values."""
    columns = []
    for column in table.columns:
        values = column.to_pylist()
        if pa.types.is_map(column.type):
            values = [None if v is None else tuple(v) for v in values]
        columns.append([render_value(v, column.type) for v in values])
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def csv_line(values: Sequence[str | None]) -> str:
    """One line of Athena's result CSV: every value quoted, NULL empty and unquoted."""
    return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"
