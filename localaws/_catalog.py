"""The Glue Data Catalog as the crawler and Athena both write and read it: one set of rules.

Types (Arrow <-> Glue/Hive), storage formats (SerDe, input/output formats and the text SerDes' properties:
Parquet, LazySimpleSerDe, OpenCSVSerDe, the OpenX JSON SerDe), the shape of table, storage descriptor and
partition inputs, which objects Hive-style readers ignore, and catalog reads through the Glue API.
Everything but :class:`GlueCatalog` is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
OPENX_JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
HIVE_JSON_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"
#: LazySimpleSerDe's default field delimiter (Ctrl-A) when the table names none.
HIVE_DEFAULT_DELIMITER = "\x01"
#: Partition value Hive writes for NULL.
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: What a partition takes over from its table's storage descriptor.
_INHERITED = ("Columns", "InputFormat", "OutputFormat", "SerdeInfo")

Columns = Sequence[tuple[str, str]]


class UnsupportedType(ValueError):
    """An Arrow type with no Glue column type; the message names the type."""


class UnsupportedFormat(ValueError):
    """A table storage (SerDe, its properties) the runtime cannot read; the message says which."""


# ---- storage formats ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageFormat:
    """How a table's objects are stored: what a storage descriptor says and how a reader must split them.

    ``kind`` is ``parquet``, ``delimited`` (LazySimpleSerDe: split on the delimiter, no quoting, ``\\N`` is
    NULL), ``csv`` (OpenCSVSerDe: quoted fields, escape character) or ``json`` (one JSON document per line).
    """

    kind: str
    serde: str
    input_format: str
    output_format: str
    serde_parameters: Mapping[str, str] = field(default_factory=dict)
    #: Lines skipped at the start of every object (``skip.header.line.count``).
    skip_header: int = 0

    @property
    def delimiter(self) -> str:
        if self.kind == "csv":
            return self.serde_parameters.get("separatorChar", ",")
        params = self.serde_parameters
        text = params.get("field.delim") or params.get("serialization.format")
        if not text:
            return HIVE_DEFAULT_DELIMITER
        # Hive's LazySerDeParameters.getByte: a number is a byte value ("1" is Ctrl-A), else the text itself.
        return chr(int(text)) if text.isdigit() else text

    @property
    def quote(self) -> str:
        return self.serde_parameters.get("quoteChar", '"')

    @property
    def null_format(self) -> str:
        return self.serde_parameters.get("serialization.null.format", "\\N")

    def storage_fields(self) -> dict[str, Any]:
        """InputFormat, OutputFormat and SerdeInfo of a storage descriptor."""
        return {
            "InputFormat": self.input_format,
            "OutputFormat": self.output_format,
            "SerdeInfo": {"SerializationLibrary": self.serde, "Parameters": dict(self.serde_parameters)},
        }


PARQUET = StorageFormat(
    "parquet", PARQUET_SERDE, PARQUET_INPUT_FORMAT, PARQUET_OUTPUT_FORMAT, {"serialization.format": "1"}
)


def delimited_format(delimiter: str, skip_header: int = 0) -> StorageFormat:
    """LazySimpleSerDe over text split on ``delimiter`` (what crawlers choose for unquoted CSV)."""
    return StorageFormat(
        "delimited",
        LAZY_SIMPLE_SERDE,
        TEXT_INPUT_FORMAT,
        TEXT_OUTPUT_FORMAT,
        {"field.delim": delimiter},
        skip_header,
    )


def open_csv_format(separator: str = ",", quote: str = '"', skip_header: int = 0) -> StorageFormat:
    """OpenCSVSerDe (what crawlers choose when fields are quoted)."""
    return StorageFormat(
        "csv",
        OPEN_CSV_SERDE,
        TEXT_INPUT_FORMAT,
        TEXT_OUTPUT_FORMAT,
        {"separatorChar": separator, "quoteChar": quote},
        skip_header,
    )


def json_format(parameters: Mapping[str, str] | None = None) -> StorageFormat:
    """The OpenX JSON SerDe: one JSON document per line."""
    return StorageFormat(
        "json", OPENX_JSON_SERDE, TEXT_INPUT_FORMAT, TEXT_OUTPUT_FORMAT, dict(parameters or {"paths": ""})
    )


#: SerDe properties each text SerDe honours here; anything else is refused, never ignored.
_KNOWN_SERDE_PARAMETERS = {
    LAZY_SIMPLE_SERDE: {"field.delim", "serialization.format", "serialization.null.format", "line.delim"},
    OPEN_CSV_SERDE: {"separatorChar", "quoteChar", "escapeChar", "serialization.format"},
    OPENX_JSON_SERDE: {"ignore.malformed.json", "case.insensitive", "paths", "serialization.format"},
    HIVE_JSON_SERDE: {"paths", "serialization.format"},
}


def storage_format(
    serde: str | None,
    serde_parameters: Mapping[str, str] | None = None,
    table_parameters: Mapping[str, str] | None = None,
    input_format: str | None = None,
) -> StorageFormat:
    """The :class:`StorageFormat` a storage descriptor describes; :class:`UnsupportedFormat` names what is not
    readable here (an unknown SerDe or property, a multi-character delimiter, a custom line delimiter)."""
    params = dict(serde_parameters or {})
    table_params = dict(table_parameters or {})
    skip_text = table_params.get("skip.header.line.count", "0")
    try:
        skip = int(skip_text)
    except ValueError:
        raise UnsupportedFormat(f"skip.header.line.count must be an integer, got {skip_text!r}") from None
    if input_format not in (None, TEXT_INPUT_FORMAT, PARQUET_INPUT_FORMAT):
        raise UnsupportedFormat(
            f"input format {input_format} is not supported locally (Parquet and text only)"
        )
    if serde is None:  # a table without a SerDe: Hive's default for its input format
        serde = LAZY_SIMPLE_SERDE if input_format == TEXT_INPUT_FORMAT else PARQUET_SERDE
    if serde == PARQUET_SERDE:
        if input_format == TEXT_INPUT_FORMAT:
            raise UnsupportedFormat(f"SerDe {serde} cannot read {input_format}")
        return PARQUET
    if input_format == PARQUET_INPUT_FORMAT:
        raise UnsupportedFormat(f"SerDe {serde} cannot read {input_format}")
    if serde not in _KNOWN_SERDE_PARAMETERS:
        raise UnsupportedFormat(f"SerDe {serde} is not supported locally")
    unknown = sorted(set(params) - _KNOWN_SERDE_PARAMETERS[serde])
    if unknown:
        raise UnsupportedFormat(f"SerDe property {', '.join(unknown)} of {serde} is not supported locally")
    if params.get("line.delim", "\n") != "\n":
        raise UnsupportedFormat("only '\\n' is supported as line.delim")
    if serde in (OPENX_JSON_SERDE, HIVE_JSON_SERDE):
        return StorageFormat("json", serde, TEXT_INPUT_FORMAT, TEXT_OUTPUT_FORMAT, params, skip)
    kind = "csv" if serde == OPEN_CSV_SERDE else "delimited"
    text_format = StorageFormat(kind, serde, TEXT_INPUT_FORMAT, TEXT_OUTPUT_FORMAT, params, skip)
    for name, value in (("delimiter", text_format.delimiter), ("quote", text_format.quote)):
        if len(value) != 1:
            raise UnsupportedFormat(f"a {name} of {len(value)} characters ({value!r}) is not supported")
    return text_format


def format_of(table: Mapping[str, Any]) -> StorageFormat:
    """The storage format of a catalog table (or partition) as registered."""
    storage = table.get("StorageDescriptor") or {}
    serde = storage.get("SerdeInfo") or {}
    return storage_format(
        serde.get("SerializationLibrary"),
        serde.get("Parameters"),
        table.get("Parameters"),
        storage.get("InputFormat"),
    )


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
    location: str,
    columns: Columns,
    parameters: dict[str, str] | None = None,
    stored_as: StorageFormat = PARQUET,
) -> dict[str, Any]:
    """A storage descriptor (Parquet unless ``stored_as`` says otherwise), as the crawler and Athena write
    them."""
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": location,
        **stored_as.storage_fields(),
        "Compressed": False,
        "NumberOfBuckets": -1,
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
    stored_as: StorageFormat = PARQUET,
) -> dict[str, Any]:
    """An external table (``CreateTable`` / ``UpdateTable`` input), Parquet unless ``stored_as`` says."""
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters or {},
        "PartitionKeys": [{"Name": n, "Type": t} for n, t in partition_keys],
        "StorageDescriptor": storage_descriptor(location, columns, storage_parameters, stored_as),
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
