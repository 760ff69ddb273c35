"""The Athena statements the local runtime runs, as plain data: what :mod:`.parse` produces."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

CATALOG = "awsdatacatalog"
#: Athena's limit on partitions one CTAS / INSERT INTO may write.
MAX_WRITTEN_PARTITIONS = 100


@dataclass(frozen=True)
class TableName:
    """A catalog table reference, lower-cased like Athena's names, with where it appears in the SQL."""

    database: str
    name: str
    line: int = 1
    col: int = 1

    @property
    def qualified(self) -> str:
        return f"{CATALOG}.{self.database}.{self.name}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.database, self.name)

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"


@dataclass(frozen=True)
class Select:
    query: exp.Query
    statement_type: str = "DML"
    substatement_type: str = "SELECT"


@dataclass(frozen=True)
class CtasOptions:
    format: str = "PARQUET"
    external_location: str | None = None
    partitioned_by: tuple[str, ...] = ()
    bucketed_by: tuple[str, ...] = ()
    write_compression: str = "SNAPPY"


@dataclass(frozen=True)
class CreateTableAs:
    target: TableName
    query: exp.Query
    options: CtasOptions
    if_not_exists: bool = False
    with_data: bool = True
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_TABLE_AS_SELECT"


@dataclass(frozen=True)
class InsertInto:
    target: TableName
    query: exp.Query
    columns: tuple[str, ...] = ()
    statement_type: str = "DML"
    substatement_type: str = "INSERT"


@dataclass(frozen=True)
class CreateView:
    target: TableName
    query: exp.Query
    original_sql: str
    replace: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_VIEW"


@dataclass(frozen=True)
class DropTable:
    target: TableName
    if_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "DROP_TABLE"


@dataclass(frozen=True)
class DropView:
    target: TableName
    if_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "DROP_VIEW"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Glue / Hive type string


@dataclass(frozen=True)
class CreateExternalTable:
    target: TableName
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    location: str
    #: ``STORED AS`` (``PARQUET``, ``TEXTFILE``; Athena's default is ``TEXTFILE``), or None with an
    #: explicit ``input_format``.
    format: str | None = "TEXTFILE"
    table_properties: tuple[tuple[str, str], ...] = ()
    if_not_exists: bool = False
    #: ``ROW FORMAT SERDE`` / ``ROW FORMAT DELIMITED`` (LazySimpleSerDe) and its properties.
    serde: str | None = None
    serde_properties: tuple[tuple[str, str], ...] = ()
    #: ``STORED AS INPUTFORMAT '…'``.
    input_format: str | None = None
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_TABLE"


@dataclass(frozen=True)
class RepairTable:
    target: TableName
    statement_type: str = "DDL"
    substatement_type: str = "MSCK_REPAIR_TABLE"


@dataclass(frozen=True)
class AddPartitions:
    target: TableName
    #: (partition values by key, explicit location or None)
    partitions: tuple[tuple[tuple[tuple[str, str], ...], str | None], ...]
    if_not_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "ALTER_TABLE_ADD_PARTITION"


@dataclass(frozen=True)
class DropPartitions:
    target: TableName
    partitions: tuple[tuple[tuple[str, str], ...], ...]
    if_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "ALTER_TABLE_DROP_PARTITION"


@dataclass(frozen=True)
class CreateDatabase:
    name: str
    if_not_exists: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "CREATE_DATABASE"


@dataclass(frozen=True)
class DropDatabase:
    name: str
    if_exists: bool = False
    cascade: bool = False
    statement_type: str = "DDL"
    substatement_type: str = "DROP_DATABASE"


@dataclass(frozen=True)
class ShowTables:
    database: str
    pattern: str | None = None
    statement_type: str = "DDL"
    substatement_type: str = "SHOW_TABLES"


@dataclass(frozen=True)
class ShowDatabases:
    statement_type: str = "DDL"
    substatement_type: str = "SHOW_DATABASES"


@dataclass(frozen=True)
class ShowPartitions:
    target: TableName
    statement_type: str = "DDL"
    substatement_type: str = "SHOW_PARTITIONS"


@dataclass(frozen=True)
class Describe:
    target: TableName
    statement_type: str = "DDL"
    substatement_type: str = "DESCRIBE_TABLE"


Statement = (
    Select
    | CreateTableAs
    | InsertInto
    | CreateView
    | DropTable
    | DropView
    | CreateExternalTable
    | RepairTable
    | AddPartitions
    | DropPartitions
    | CreateDatabase
    | DropDatabase
    | ShowTables
    | ShowDatabases
    | ShowPartitions
    | Describe
)
