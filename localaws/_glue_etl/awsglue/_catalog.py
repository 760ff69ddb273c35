"""The Data Catalog as the readers and sinks use it: a table's format, columns and partitions, and
the writes of ``enableUpdateCatalog``. Through boto3 (the runtime's endpoint comes from the environment)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .errors import NotCoveredError

PARQUET = {
    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
}
CSV = {
    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
}
JSON = {
    "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
}
FORMATS = {"parquet": PARQUET, "csv": CSV, "json": JSON}
#: Characters Spark and Hive escape (%XX) in a partition folder name.
_ESCAPED = set("\"#%'*/:=?\\\x7f{[]^")
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass
class Table:
    database: str
    name: str
    location: str
    format: str  # parquet | csv | json
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]
    serde_parameters: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    serde: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"


def client() -> Any:
    return boto3.client("glue")


def table_format(table: dict[str, Any]) -> str:
    """parquet, csv or json, from the table's classification, SerDe or input format."""
    sd = table.get("StorageDescriptor", {})
    classification = (table.get("Parameters") or {}).get("classification", "").lower()
    serde = (sd.get("SerdeInfo") or {}).get("SerializationLibrary", "")
    hints = f"{classification} {serde} {sd.get('InputFormat', '')}".lower()
    if "parquet" in hints:
        return "parquet"
    if "csv" in hints or "lazysimpleserde" in hints:
        return "csv"
    if "json" in hints:
        return "json"
    raise NotCoveredError(
        f"reading table {table.get('DatabaseName')}.{table.get('Name')} (classification {classification!r}, "
        f"SerDe {serde!r}; parquet, csv and json are)"
    )


def get_table(database: str, name: str, catalog_id: str | None = None) -> Table:
    kwargs = {"CatalogId": catalog_id} if catalog_id else {}
    raw = client().get_table(DatabaseName=database, Name=name, **kwargs)["Table"]
    sd = raw.get("StorageDescriptor", {})
    return Table(
        database=database,
        name=name,
        location=sd.get("Location", ""),
        format=table_format(raw),
        columns=[(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
        partition_keys=[(c["Name"], c["Type"]) for c in raw.get("PartitionKeys", [])],
        serde_parameters=dict((sd.get("SerdeInfo") or {}).get("Parameters") or {}),
        parameters=dict(raw.get("Parameters") or {}),
        serde=(sd.get("SerdeInfo") or {}).get("SerializationLibrary", ""),
    )


def find_table(database: str, name: str, catalog_id: str | None = None) -> Table | None:
    try:
        return get_table(database, name, catalog_id)
    except ClientError as error:
        if error.response["Error"]["Code"] == "EntityNotFoundException":
            return None
        raise


def partitions(table: Table, catalog_id: str | None = None) -> list[tuple[list[str], str]]:
    """(values, location) of every partition of the table."""
    kwargs = {"CatalogId": catalog_id} if catalog_id else {}
    found = []
    paginator = client().get_paginator("get_partitions")
    for page in paginator.paginate(DatabaseName=table.database, TableName=table.name, **kwargs):
        for partition in page["Partitions"]:
            found.append((partition["Values"], partition["StorageDescriptor"]["Location"]))
    return found


def escape_partition_value(value: str | None) -> str:
    """A partition value as a folder name, as Spark writes it."""
    if value is None or value == "":
        return HIVE_NULL
    return "".join(f"%{ord(c):02X}" if c in _ESCAPED or ord(c) < 0x20 else c for c in value)


def storage(fmt: str, location: str, columns: Sequence[tuple[str, str]]) -> dict[str, Any]:
    serde = FORMATS[fmt]
    parameters = {"field.delim": ","} if fmt == "csv" else {}
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": location,
        "InputFormat": serde["InputFormat"],
        "OutputFormat": serde["OutputFormat"],
        "SerdeInfo": {"SerializationLibrary": serde["SerializationLibrary"], "Parameters": parameters},
    }


def ensure_table(
    database: str,
    name: str,
    fmt: str,
    location: str,
    columns: Sequence[tuple[str, str]],
    partition_keys: Sequence[tuple[str, str]],
    update_schema: bool,
    catalog_id: str | None = None,
    header: bool = False,
) -> None:
    """Create the table, or (``update_schema``) add the frame's new columns to it, as ``enableUpdateCatalog``
    does with ``updateBehavior`` ``UPDATE_IN_DATABASE``."""
    kwargs = {"CatalogId": catalog_id} if catalog_id else {}
    existing = find_table(database, name, catalog_id)
    glue = client()
    if existing is None:
        glue.create_table(
            DatabaseName=database,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                # Spark's CSV writer writes a header line (Glue's writeHeader default)
                "Parameters": {
                    "classification": fmt,
                    **({"skip.header.line.count": "1"} if header else {}),
                },
                "StorageDescriptor": storage(fmt, location, columns),
                "PartitionKeys": [{"Name": n, "Type": t} for n, t in partition_keys],
            },
            **kwargs,
        )
        return
    known = {n.lower() for n, _ in existing.columns} | {n.lower() for n, _ in existing.partition_keys}
    added = [(n, t) for n, t in columns if n.lower() not in known]
    if not update_schema or not added:
        return
    glue.update_table(
        DatabaseName=database,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": existing.parameters,
            "StorageDescriptor": storage(existing.format, existing.location, [*existing.columns, *added]),
            "PartitionKeys": [{"Name": n, "Type": t} for n, t in existing.partition_keys],
        },
        **kwargs,
    )


def add_partitions(
    table: Table, values: Iterable[Sequence[str | None]], root: str, catalog_id: str | None = None
) -> None:
    """Register the partitions written under ``root`` (those already registered are left alone)."""
    kwargs = {"CatalogId": catalog_id} if catalog_id else {}
    names = [n for n, _ in table.partition_keys]
    inputs = []
    for row in values:
        folder = "/".join(f"{n}={escape_partition_value(v)}" for n, v in zip(names, row, strict=True))
        location = root.rstrip("/") + "/" + folder + "/"
        inputs.append(
            {
                "Values": [HIVE_NULL if v is None else v for v in row],
                "StorageDescriptor": storage(table.format, location, table.columns),
            }
        )
    glue = client()
    for start in range(0, len(inputs), 100):
        response = glue.batch_create_partition(
            DatabaseName=table.database,
            TableName=table.name,
            PartitionInputList=inputs[start : start + 100],
            **kwargs,
        )
        for error in response.get("Errors", []):
            if error["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException":
                raise RuntimeError(
                    f"cannot add partition {error['PartitionValues']} to {table.qualified}: {error}"
                )
