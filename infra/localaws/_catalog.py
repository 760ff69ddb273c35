"""The Glue Data Catalog as the crawler and Athena both write and read it: one set of rules.

Types (Arrow <-> Glue/Hive), SerDe and input/output format names, the shape of table, storage descriptor
and partition inputs, which objects Hive-style readers ignore, and catalog reads through the Glue API.
Everything but :class:`GlueCatalog` is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
#: Partition value Hive writes for NULL.
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: What a partition takes over from its table's storage descriptor.
_INHERITED = ("Columns", "InputFormat", "OutputFormat", "SerdeInfo")

Columns = Sequence[tuple[str, str]]


class UnsupportedType(ValueError):
    """An Arrow type with no Glue column type; the message names the type."""


# ---- types ----------------------------------------------------------------------------------------
def glue_type(arrow_type: pa.DataType) -> str:
    """The Glue (Hive) column type of an Arrow type, as the crawler and Athena's CTAS register it."""
    t = arrow_type
    if pa.types.is_dictionary(t):
        return glue_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_null(t):  # an all-NULL column: Athena's unknown, registered as string
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t):
        return "tinyint"
    if pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "int"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type)},{glue_type(t.item_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{t.field(i).name}:{glue_type(t.field(i).type)}" for i in range(t.num_fields))
        return f"struct<{fields}>"
    raise UnsupportedType(f"Arrow type {t} has no Glue column type")


def glue_to_arrow(glue_column_type: str) -> pa.DataType:
    """A Glue column type (``string``, ``array<string>``, ``decimal(10,2)``, …) as an Arrow type.

    Raises :class:`UnsupportedType` for a type with no Arrow counterpart here, ValueError if unparsable.
    """
    from sqlglot import exp

    return _datatype_to_arrow(exp.DataType.build(glue_column_type, dialect="hive"))


def _datatype_to_arrow(datatype: Any) -> pa.DataType:
    from sqlglot import exp

    kind = datatype.this
    simple = _SIMPLE_ARROW.get(kind.name)
    if simple is not None:
        return simple
    if kind == exp.DataType.Type.DECIMAL:
        params = [int(p.this.this) for p in datatype.expressions] or [10, 0]
        return pa.decimal128(params[0], params[1] if len(params) > 1 else 0)
    if kind == exp.DataType.Type.ARRAY:
        return pa.list_(_datatype_to_arrow(datatype.expressions[0]))
    if kind == exp.DataType.Type.MAP:
        return pa.map_(
            _datatype_to_arrow(datatype.expressions[0]), _datatype_to_arrow(datatype.expressions[1])
        )
    if kind == exp.DataType.Type.STRUCT:
        return pa.struct([pa.field(f.name, _datatype_to_arrow(f.args["kind"])) for f in datatype.expressions])
    raise UnsupportedType(f"no Arrow type for Glue type {datatype.sql('hive')}")


#: sqlglot type names (``exp.DataType.Type`` member names) of the Glue types with one Arrow type.
_SIMPLE_ARROW: dict[str, pa.DataType] = {
    "TEXT": pa.string(),
    "VARCHAR": pa.string(),
    "CHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INT": pa.int32(),
    "SMALLINT": pa.int16(),
    "TINYINT": pa.int8(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATETIME": pa.timestamp("us"),
    "BINARY": pa.binary(),
    "VARBINARY": pa.binary(),
}


# ---- objects and partitions --------------------------------------------------------------------------
def is_hidden(relative_key: str) -> bool:
    """Objects Hive-style readers ignore: ``_SUCCESS``, ``_temporary/``, ``.staging``, folder markers."""
    parts = relative_key.split("/")
    return relative_key.endswith(("/", "$folder$")) or any(p.startswith(("_", ".")) for p in parts if p)


# ---- catalog inputs -----------------------------------------------------------------------------------
def storage_descriptor(
    location: str, columns: Columns, parameters: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Parquet storage descriptor, as the crawler and Athena write them."""
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": location,
        "InputFormat": PARQUET_INPUT_FORMAT,
        "OutputFormat": PARQUET_OUTPUT_FORMAT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": parameters or {},
        "StoredAsSubDirectories": False,
    }


def table_input(
    name: str,
    columns: Columns,
    location: str,
    *,
    partition_keys: Columns = (),
    parameters: dict[str, str] | None = None,
    storage_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An external Parquet table (``CreateTable`` / ``UpdateTable`` input)."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters or {},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in partition_keys],
        "StorageDescriptor": storage_descriptor(location, columns, storage_parameters),
    }


def partition_input(values: Sequence[str], storage: dict[str, Any]) -> dict[str, Any]:
    """A ``BatchCreatePartition`` / ``BatchUpdatePartition`` entry."""
    return {"Values": list(values), "StorageDescriptor": storage, "Parameters": {}}


def inherited_storage(table: dict[str, Any], location: str) -> dict[str, Any]:
    """A partition's storage descriptor at ``location``, its columns, formats and SerDe from its table."""
    table_storage = table.get("StorageDescriptor") or {}
    defaults = storage_descriptor(location, [])
    return {key: table_storage.get(key, defaults[key]) for key in _INHERITED} | {"Location": location}


def columns_of(table: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, type)`` of a catalog table's data columns."""
    return [
        (c["Name"], c.get("Type", "string"))
        for c in (table.get("StorageDescriptor") or {}).get("Columns", [])
    ]


def partition_keys_of(table: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k["Name"], k.get("Type", "string")) for k in table.get("PartitionKeys", [])]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---- reading and writing through the Glue API ----------------------------------------------------------
class CatalogError(Exception):
    """The Glue API refused a catalog write; the message names the table."""


class GlueCatalog:
    """The runtime's Glue Data Catalog through a boto3 Glue client (moto serves it in this process)."""

    def __init__(self, glue: Any) -> None:
        self.glue = glue

    def database_exists(self, name: str) -> bool:
        try:
            self.glue.get_database(Name=name)
            return True
        except self.glue.exceptions.EntityNotFoundException:
            return False

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.glue.get_table(DatabaseName=database, Name=name)["Table"])
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def tables(self, database: str) -> list[dict[str, Any]]:
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=database)
        return [t for page in pages for t in page["TableList"]]

    def partitions(self, database: str, table: str) -> list[dict[str, Any]]:
        pages = self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
        return [p for page in pages for p in page["Partitions"]]

    def create_partitions(self, database: str, table: str, inputs: Sequence[dict[str, Any]]) -> None:
        for chunk in chunks(inputs, 100):
            response = self.glue.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=list(chunk)
            )
            if response.get("Errors"):
                raise CatalogError(f"could not register partitions of {table}: {response['Errors'][:3]}")

    def update_partitions(self, database: str, table: str, entries: Sequence[dict[str, Any]]) -> None:
        for chunk in chunks(entries, 100):
            self.glue.batch_update_partition(DatabaseName=database, TableName=table, Entries=list(chunk))

    def delete_partitions(self, database: str, table: str, values: Iterable[Sequence[str]]) -> None:
        for chunk in chunks([list(v) for v in values], 25):
            self.glue.batch_delete_partition(
                DatabaseName=database, TableName=table, PartitionsToDelete=[{"Values": v} for v in chunk]
            )
