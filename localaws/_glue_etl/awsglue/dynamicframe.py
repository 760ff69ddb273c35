"""``DynamicFrame`` over a PySpark DataFrame, its collection, and the readers/writers of ``GlueContext``.

A local DynamicFrame wraps one DataFrame: every column has one type, so there are no choice types and no
error records (``resolveChoice`` resolves against the catalog or casts; ``make_cols`` / ``make_struct`` leave
a column of one type alone, as Glue does). Field paths use Glue's syntax: ``a.b`` is field ``b`` of struct
``a``; a name holding a dot is quoted with backticks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from .errors import NotCoveredError

if TYPE_CHECKING:
    from .context import GlueContext


# ---- paths ----------------------------------------------------------------------------------------------
def split_path(path: str) -> list[str]:
    """``a.b`` -> [a, b]; ```a.b`.c`` -> [a.b, c]."""
    parts: list[str] = []
    current, quoted = "", False
    for char in path:
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if quoted or not path:
        raise ValueError(f"invalid field path {path!r}")
    parts.append(current)
    return parts


def column(parts: Sequence[str]) -> Column:
    return F.col(".".join(f"`{p}`" for p in parts))


def has_field(schema: T.StructType, parts: Sequence[str]) -> bool:
    current: T.DataType = schema
    for part in parts:
        if not isinstance(current, T.StructType):
            return False
        match = [f for f in current.fields if f.name.lower() == part.lower()]
        if not match:
            return False
        current = match[0].dataType
    return True


def nest(entries: Iterable[tuple[Sequence[str], Column]]) -> list[Column]:
    """Columns for target paths: ``[(["a", "b"], c1), (["d"], c2)]`` -> ``struct(c1 AS b) AS a, c2 AS d``."""
    tree: dict[str, Any] = {}
    for parts, value in entries:
        node = tree
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"target {'.'.join(parts)} nests into field {part!r}, which is not a struct")
            node = child
        if parts[-1] in node:
            raise ValueError(f"two mappings write target {'.'.join(parts)}")
        node[parts[-1]] = value

    def render(node: dict[str, Any]) -> list[Column]:
        return [F.struct(*render(v)).alias(k) if isinstance(v, dict) else v.alias(k) for k, v in node.items()]

    return render(tree)


def _paths(paths: str | Sequence[str]) -> list[str]:
    return [paths] if isinstance(paths, str) else list(paths)


# ---- the frame ------------------------------------------------------------------------------------------
class DynamicFrame:
    """Glue's DynamicFrame, locally one DataFrame (``toDF()`` returns it)."""

    def __init__(self, df: DataFrame, glue_ctx: GlueContext, name: str = "") -> None:
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name

    @classmethod
    def fromDF(cls, dataframe: DataFrame, glue_ctx: GlueContext, name: str = "") -> DynamicFrame:  # noqa: N802
        return cls(dataframe, glue_ctx, name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise NotCoveredError(f"DynamicFrame.{name}")

    def _new(self, df: DataFrame) -> DynamicFrame:
        return DynamicFrame(df, self.glue_ctx, self.name)

    # -- looking at it --
    def toDF(self, options: Any = None) -> DataFrame:  # noqa: N802
        return self._df

    def count(self) -> int:
        return self._df.count()

    def schema(self) -> T.StructType:
        return self._df.schema

    def printSchema(self) -> None:  # noqa: N802
        self._df.printSchema()

    def show(self, num_rows: int = 20) -> None:
        self._df.show(num_rows, truncate=False)

    def getNumPartitions(self) -> int:  # noqa: N802
        return self._df.rdd.getNumPartitions()

    def errorsCount(self) -> int:  # noqa: N802
        """Local frames hold no error records (every value has its column's type)."""
        return 0

    def repartition(self, num_partitions: int, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return self._new(self._df.repartition(num_partitions))

    def coalesce(
        self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._new(df)

    # -- transforms --
    def apply_mapping(
        self,
        mappings: Sequence[Sequence[str]],
        case_sensitive: bool = False,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """Select, rename and cast: ``(source, source_type, target, target_type)`` per output field; fields
        not mapped are dropped. A source missing from the frame gives NULLs of the target type."""
        entries = []
        for mapping in mappings:
            if len(mapping) == 4:
                source, _source_type, target, target_type = mapping
            elif len(mapping) == 3:
                source, target, target_type = mapping
            else:
                raise ValueError(f"mapping {mapping!r}: expected (source, source_type, target, target_type)")
            parts = split_path(source)
            value = column(parts) if has_field(self._df.schema, parts) else F.lit(None)
            entries.append((split_path(target), value.cast(_spark_type(target_type))))
        return self._new(self._df.select(*nest(entries)))

    applyMapping = apply_mapping  # noqa: N815

    def select_fields(
        self, paths: str | Sequence[str], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        wanted = [split_path(p) for p in _paths(paths)]
        present = [parts for parts in wanted if has_field(self._df.schema, parts)]
        return self._new(self._df.select(*nest((parts, column(parts)) for parts in present)))

    def drop_fields(self, paths: str | Sequence[str], transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        df = self._df
        for path in _paths(paths):
            parts = split_path(path)
            if not has_field(df.schema, parts):
                continue
            if len(parts) == 1:
                df = df.drop(parts[0])
            else:
                df = df.withColumn(
                    parts[0], column(parts[:1]).dropFields(".".join(f"`{p}`" for p in parts[1:]))
                )
        return self._new(df)

    def rename_field(
        self, oldName: str, newName: str, transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:  # noqa: N803
        old, new = split_path(oldName), split_path(newName)
        if not has_field(self._df.schema, old):
            return self._new(self._df)
        if len(old) == 1 and len(new) == 1:
            return self._new(self._df.withColumnRenamed(old[0], new[0]))
        if old[:-1] == new[:-1]:
            parent = column(old[:-1])
            changed = parent.withField(f"`{new[-1]}`", column(old)).dropFields(f"`{old[-1]}`")
            if len(old) == 2:
                return self._new(self._df.withColumn(old[0], changed))
        raise NotCoveredError(f"RenameField from {oldName!r} to {newName!r} (a rename within one struct is)")

    def resolveChoice(  # noqa: N802
        self,
        specs: Sequence[tuple[str, str]] | None = None,
        choice: str = "",
        database: str | None = None,
        table_name: str | None = None,
        transformation_ctx: str = "",
        catalog_id: str | None = None,
        **_: Any,
    ) -> DynamicFrame:
        """``cast:<type>`` / ``project:<type>`` cast the field; ``make_cols`` / ``make_struct`` leave a field
        of one type as it is; ``match_catalog`` casts the fields to the types of ``database.table_name``."""
        if specs and choice:
            raise ValueError("resolveChoice: give specs or choice, not both")
        df = self._df
        actions = list(specs or [])
        if choice == "match_catalog":
            if not database or not table_name:
                raise ValueError("resolveChoice(choice='match_catalog') needs database and table_name")
            from . import _catalog

            table = _catalog.get_table(database, table_name, catalog_id)
            actions = [
                (name, f"cast:{glue_type}") for name, glue_type in [*table.columns, *table.partition_keys]
            ]
        elif choice:  # applies to the choice-typed fields, which a local frame never has
            _choice_kind(choice)
        for path, action in actions:
            parts = split_path(path)
            if not has_field(df.schema, parts):
                continue
            how, target = _choice_kind(action)
            if how in ("cast", "project"):
                if len(parts) == 1:
                    df = df.withColumn(parts[0], column(parts).cast(_spark_type(target)))
                else:
                    value = column(parts).cast(_spark_type(target))
                    df = df.withColumn(
                        parts[0], column(parts[:1]).withField(".".join(f"`{p}`" for p in parts[1:]), value)
                    )
        return self._new(df)

    def filter(
        self, f: Callable[[dict[str, Any]], bool], transformation_ctx: str = "", **_: Any
    ) -> DynamicFrame:
        """Records for which ``f(record)`` is true; a record whose test raises KeyError, ValueError or
        TypeError is dropped, as Glue drops it."""

        def keep(row: Row) -> bool:
            try:
                return bool(f(row.asDict(recursive=True)))
            except (KeyError, ValueError, TypeError):
                return False

        session = self._df.sparkSession
        return self._new(session.createDataFrame(self._df.rdd.filter(keep), self._df.schema))

    def join(
        self,
        paths1: str | Sequence[str],
        paths2: str | Sequence[str],
        frame2: DynamicFrame,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrame:
        """Inner equi-join on ``paths1`` = ``paths2``; the result has the fields of both frames."""
        keys1, keys2 = _paths(paths1), _paths(paths2)
        if len(keys1) != len(keys2) or not keys1:
            raise ValueError(f"Join keys {keys1} and {keys2}: give the same number of keys on both sides")
        left, right = self._df.alias("__left"), frame2.toDF().alias("__right")
        condition = None
        for k1, k2 in zip(keys1, keys2, strict=True):
            term = F.col(f"__left.{k1}") == F.col(f"__right.{k2}")
            condition = term if condition is None else condition & term
        shared_keys = {k2 for k1, k2 in zip(keys1, keys2, strict=True) if k1 == k2}
        right_columns = [c for c in frame2.toDF().columns if c not in shared_keys]
        clashes = sorted(set(self._df.columns) & set(right_columns))
        if clashes:
            raise ValueError(
                f"Join: both frames have fields {clashes}; rename or drop them on one side first"
            )
        joined = left.join(right, condition, "inner")
        columns = [F.col(f"__left.`{c}`") for c in self._df.columns] + [
            F.col(f"__right.`{c}`") for c in right_columns
        ]
        return self._new(joined.select(*columns))

    def unnest(self, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        """Struct fields become top-level fields named ``parent.child``."""
        return self._new(self._df.select(*_flatten(self._df.schema, [])))

    def relationalize(
        self,
        root_table_name: str,
        staging_path: str,
        options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        **_: Any,
    ) -> DynamicFrameCollection:
        """Flatten structs (``a.b``) and move each array to its own frame ``<root>_<path>`` with ``id`` (the
        value left in the parent's field), ``index``, ``<path>.val`` (``<path>.val.<field>`` of structs)."""
        frames: dict[str, DataFrame] = {}
        _relationalize(self._df, root_table_name, root_table_name, frames)
        return DynamicFrameCollection({n: self._new(df) for n, df in frames.items()}, self.glue_ctx)

    def union(self, other_frame: DynamicFrame, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return self._new(self._df.unionByName(other_frame.toDF(), allowMissingColumns=True))


def _choice_kind(action: str) -> tuple[str, str]:
    """``cast:long`` -> (cast, long); ``make_cols`` -> (make_cols, "")."""
    how, _sep, target = action.partition(":")
    if how in ("cast", "project") and target or how in ("make_cols", "make_struct") and not target:
        return how, target
    raise NotCoveredError(
        f"resolveChoice action {action!r} (cast:<type>, project:<type>, make_cols, make_struct, "
        "match_catalog are)"
    )


def _spark_type(glue_type: str) -> str:
    """Glue's type names as Spark's cast understands them."""
    aliases = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint"}
    return aliases.get(glue_type.strip().lower(), glue_type.strip())


def _flatten(schema: T.StructType, prefix: list[str]) -> list[Column]:
    columns: list[Column] = []
    for field in schema.fields:
        parts = [*prefix, field.name]
        if isinstance(field.dataType, T.StructType):
            columns += _flatten(field.dataType, parts)
        else:
            columns.append(column(parts).alias(".".join(parts)))
    return columns


def _relationalize(df: DataFrame, root: str, name: str, frames: dict[str, DataFrame]) -> None:
    flat = df.select(*_flatten(df.schema, []))
    frames[name] = flat  # its place comes before the frames of its arrays
    arrays = [f.name for f in flat.schema.fields if isinstance(f.dataType, T.ArrayType)]
    if not arrays:
        return
    # one id per parent row and array (1, 2, ...), as the value of the array's field in the parent
    session = flat.sparkSession
    indexed = session.createDataFrame(
        flat.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 1)),
        T.StructType([*flat.schema.fields, T.StructField("__row", T.LongType(), False)]),
    ).cache()
    parent = indexed
    for array in arrays:
        parent = parent.withColumn(array, F.col("__row"))
        child_name = f"{root}_{array}"
        element = flat.schema[array].dataType.elementType  # type: ignore[attr-defined]
        exploded = indexed.select(
            F.col("__row").alias("id"), F.posexplode(F.col(f"`{array}`")).alias("index", "__val")
        )
        if isinstance(element, T.StructType):
            child = exploded.select("id", "index", F.col("__val").alias(f"{array}.val"))
            child = child.select(
                "id",
                "index",
                *[F.col(f"`{array}.val`.`{f.name}`").alias(f"{array}.val.{f.name}") for f in element.fields],
            )
        else:
            child = exploded.select("id", "index", F.col("__val").alias(f"{array}.val"))
        _relationalize(child, root, child_name, frames)
    frames[name] = parent.drop("__row")


class DynamicFrameCollection:
    """Named DynamicFrames (what Relationalize returns)."""

    def __init__(self, dynamic_frames: Mapping[str, DynamicFrame], glue_ctx: GlueContext) -> None:
        self._frames = dict(dynamic_frames)
        self.glue_ctx = glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def keys(self) -> list[str]:
        return list(self._frames)

    def values(self) -> list[DynamicFrame]:
        return list(self._frames.values())

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        return self._frames[key]

    def map(
        self, callable: Callable[[DynamicFrame, str], DynamicFrame], transformation_ctx: str = ""
    ) -> DynamicFrameCollection:
        return DynamicFrameCollection({k: callable(v, k) for k, v in self._frames.items()}, self.glue_ctx)


# ---- readers and writers (glue_context.create_dynamic_frame / write_dynamic_frame) ---------------------
class DynamicFrameReader:
    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(
        self,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        return self._glue_context.create_dynamic_frame_from_options(
            connection_type,
            connection_options,
            format,
            format_options,
            transformation_ctx,
            push_down_predicate,
            **kwargs,
        )

    def from_catalog(
        self,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        push_down_predicate: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        database = database or kwargs.pop("name_space", None)
        if database is None:
            raise ValueError("Parameter name_space or database is missing.")
        if table_name is None:
            raise ValueError("Parameter table_name is missing.")
        return self._glue_context.create_dynamic_frame_from_catalog(
            database,
            table_name,
            redshift_tmp_dir,
            transformation_ctx,
            push_down_predicate,
            additional_options,
            catalog_id,
            **kwargs,
        )


class DynamicFrameWriter:
    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(
        self,
        frame: DynamicFrame,
        connection_type: str,
        connection_options: Mapping[str, Any] | None = None,
        format: str | None = None,
        format_options: Mapping[str, Any] | None = None,
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        return self._glue_context.write_dynamic_frame_from_options(
            frame, connection_type, connection_options, format, format_options, transformation_ctx
        )

    def from_catalog(
        self,
        frame: DynamicFrame,
        database: str | None = None,
        table_name: str | None = None,
        redshift_tmp_dir: str = "",
        transformation_ctx: str = "",
        additional_options: Mapping[str, Any] | None = None,
        catalog_id: str | None = None,
        **kwargs: Any,
    ) -> DynamicFrame:
        database = database or kwargs.pop("name_space", None)
        if database is None or table_name is None:
            raise ValueError("write_dynamic_frame.from_catalog needs database and table_name")
        return self._glue_context.write_dynamic_frame_from_catalog(
            frame, database, table_name, redshift_tmp_dir, transformation_ctx, additional_options, catalog_id
        )
