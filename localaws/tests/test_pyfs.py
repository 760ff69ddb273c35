"""The pyarrow skeleton both Python filesystems share (``_s3fs``, Athena's scan), seen through pyarrow."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from localaws._pyfs import Handler, ReadOnlyFile, WriteOnlyStream


class BytesFile(ReadOnlyFile):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, nbytes: int | None = -1) -> bytes:
        return self._data.read(nbytes)

    def seek(self, position: int, whence: int = 0) -> int:
        return self._data.seek(position, whence)

    def tell(self) -> int:
        return self._data.tell()

    def size(self) -> int:
        return len(self._data.getvalue())


class Collect(WriteOnlyStream):
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += bytes(data)
        return len(data)

    def tell(self) -> int:
        return len(self.data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def unused(*_args: Any) -> Any:
    raise NotImplementedError


#: The least concrete handler (pyarrow compares type names, then handlers): no filesystem call is made.
Bare: type[Handler] = type(
    "Bare",
    (Handler,),
    {**dict.fromkeys(Handler.__abstractmethods__, unused), "get_type_name": lambda _self: "bare"},
)


def test_a_read_only_file_is_readable_and_seekable_and_refuses_writes() -> None:
    raw = BytesFile(b"0123456789")
    file = pa.PythonFile(raw, mode="r")
    assert (file.readable(), file.seekable(), file.writable()) == (True, True, False)
    file.seek(4)
    assert file.read(3) == b"456" and file.size() == 10
    with pytest.raises(OSError):
        file.write(b"x")
    assert not raw.closed and not file.closed
    file.close()
    assert raw.closed and file.closed


def test_a_write_only_stream_takes_writes_and_refuses_reads_and_seeks() -> None:
    raw = Collect()
    stream = pa.PythonFile(raw, mode="w")
    assert (stream.readable(), stream.seekable(), stream.writable()) == (False, False, True)
    stream.write(b"abc")
    with pytest.raises(OSError):
        stream.read(1)
    stream.close()
    assert raw.data == b"abc" and raw.closed


def test_filesystems_are_equal_only_over_the_same_handler() -> None:
    handler = Bare()
    assert pafs.PyFileSystem(handler) == pafs.PyFileSystem(handler)
    assert pafs.PyFileSystem(handler) != pafs.PyFileSystem(Bare())
    assert handler == handler and handler != Bare() and hash(handler) == id(handler)
