"""Reading tables: the Arrow schema Athena would read, partition filters, and the bytes DuckDB pulls.

DuckDB 2 cannot load httpfs offline, so tables are scanned as pyarrow datasets over the runtime's S3; the
filesystem here counts what is read (Athena's ``DataScannedInBytes``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

# DuckDB's Arrow-scan seam (DuckDB 2): the source it picks for a pyarrow dataset, extended below.
from duckdb._sources.pyarrow import PyArrowDatasetSource
from duckdb._sources.to_arrow import to_arrow

from localaws._catalog import HIVE_NULL_PARTITION, glue_to_arrow
from localaws._pyfs import Handler, ReadOnlyFile


class CountingFile(ReadOnlyFile):
    """A read-only file that counts the bytes DuckDB actually pulls (Athena's DataScannedInBytes)."""

    def __init__(self, native: Any, counter: Counter) -> None:
        self._native = native
        self._counter = counter

    def read(self, nbytes: int | None = -1) -> bytes:
        data = self._native.read() if nbytes is None or nbytes < 0 else self._native.read(nbytes)
        self._counter.add(len(data))
        return bytes(data)

    def seek(self, position: int, whence: int = 0) -> int:
        return int(self._native.seek(position, whence))

    def tell(self) -> int:
        return int(self._native.tell())

    def size(self) -> int:
        return int(self._native.size())

    def close(self) -> None:
        self._native.close()
        super().close()


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        with self._lock:
            self.value += amount


class ScanWithoutGil(PyArrowDatasetSource):
    """DuckDB's source for a pyarrow dataset, scanning it with the GIL released.

    DuckDB's own source calls ``Scanner.to_reader()``, which starts the scan while holding the GIL (pyarrow
    does not release it there); the scan's I/O threads open files through ``CountingHandler``, in Python. In
    a make airflow backfill, four concurrent checks of ``youtube_reporting`` hung for good that way (gdb):
    an I/O thread held the scan's generator lock while it waited for the GIL, and ``to_reader()`` held the
    GIL while it waited for that lock. ``Scanner.to_table()`` releases the GIL for the whole scan; DuckDB
    still pushes its columns and filters down (partition pruning included), and a local query reads the
    projected table anyway.
    """

    def stream(self, columns: Sequence[int] | None, filters: Sequence[Any]) -> tuple[object, bool]:
        schema = self.declared_schema()
        mask = None
        for predicate in filters:
            term = to_arrow(predicate, schema)
            mask = term if mask is None else mask & term
        chosen = None if columns is None else [schema.names[i] for i in columns]
        table = ds.Scanner.from_dataset(self.obj, columns=chosen, filter=mask).to_table()
        return table.__arrow_c_stream__(), chosen is not None

    def __arrow_c_stream__(self, requested_schema: object = None) -> object:
        """What makes DuckDB's ``register`` take this object; its scans then call ``stream`` above."""
        return self.stream(None, [])[0]


class CountingHandler(Handler):
    """Read-only view of the S3 filesystem whose input files count bytes read (``open_input_file``)."""

    def __init__(self, inner: pafs.FileSystem, counter: Counter) -> None:
        self.inner = inner
        self.counter = counter

    def get_type_name(self) -> str:
        return "athena-counting-s3"

    def normalize_path(self, path: str) -> str:
        return str(self.inner.normalize_path(path))

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self.inner.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return list(self.inner.get_file_info(selector))

    def open_input_file(self, path: str) -> Any:
        return pa.PythonFile(CountingFile(self.inner.open_input_file(path), self.counter), mode="r")

    def open_input_stream(self, path: str) -> Any:
        return self.open_input_file(path)

    def _read_only(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("read-only filesystem")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only


def arrow_or(glue_type: str, default: pa.DataType | None) -> Any:
    try:
        return glue_to_arrow(glue_type)
    except Exception:  # unknown or exotic Glue type: let the file's type decide
        return default


def partition_expression(keys: list[str], types: list[pa.DataType], values: list[str]) -> ds.Expression:
    expression: ds.Expression | None = None
    for key, arrow_type, value in zip(keys, types, values, strict=True):
        if value == HIVE_NULL_PARTITION:
            term = ds.field(key).is_null()
        else:
            try:
                scalar = pa.scalar(value).cast(arrow_type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                scalar = pa.scalar(None, arrow_type)
            term = ds.field(key) == scalar
        expression = term if expression is None else expression & term
    assert expression is not None
    return expression


def _same_family(a: pa.DataType, b: pa.DataType) -> bool:
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
    return any(f(a) and f(b) for f in numeric) or (pa.types.is_integer(a) and pa.types.is_floating(b))


def table_schema(
    columns: list[tuple[str, str]], keys: list[tuple[str, pa.DataType]], file_schema: pa.Schema | None
) -> tuple[pa.Schema, dict[str, str]]:
    """The Arrow schema Athena would read: Glue's columns (by name, case-insensitive), partition keys last.

    Glue's numeric types win (files written with int32 read as bigint); otherwise the file's own type is
    kept so timestamps and nested types are never cast lossily. Returns physical-name -> Glue-name renames.
    """
    physical = (
        {name.lower(): (name, file_schema.field(name).type) for name in file_schema.names}
        if file_schema
        else {}
    )
    fields, renames = [], {}
    for name, glue_type in columns:
        glue_arrow = arrow_or(glue_type, None)
        found = physical.get(name)
        if found is None:
            fields.append(pa.field(name, glue_arrow or pa.string()))
            continue
        physical_name, file_type = found
        chosen = glue_arrow if glue_arrow is not None and _same_family(file_type, glue_arrow) else file_type
        fields.append(pa.field(physical_name, chosen))
        if physical_name != name:
            renames[physical_name] = name
    if not columns and file_schema is not None:  # a table registered without columns: read what is there
        fields = [f for f in file_schema if f.name.lower() not in {k for k, _ in keys}]
    fields += [pa.field(key, arrow_type) for key, arrow_type in keys]
    return pa.schema(fields), renames
