"""What pyarrow asks of a filesystem written in Python, said once for the runtime's two such filesystems.

``_s3fs`` (S3 keys pyarrow refuses) and Athena's scan (the bytes a query reads) each wrap the native S3
filesystem in a ``pafs.FileSystemHandler`` and hand out Python file objects through ``pa.PythonFile``. The
parts pyarrow asks of every such handler and file, which say nothing about either use, live here.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow.fs as pafs


class Handler(pafs.FileSystemHandler):
    """A handler that is equal only to itself.

    ``pafs.PyFileSystem`` compares filesystems through their handlers: two are one filesystem only when they
    share the handler object (its wrapped filesystem and state), never because two handlers look alike.
    """

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other

    def __hash__(self) -> int:
        return id(self)


class PythonFileModes:
    """The modes ``pa.PythonFile`` asks a Python file object for, and its ``closed`` flag."""

    READABLE: ClassVar[bool] = False
    SEEKABLE: ClassVar[bool] = False
    WRITABLE: ClassVar[bool] = False
    closed = False

    def readable(self) -> bool:
        return self.READABLE

    def seekable(self) -> bool:
        return self.SEEKABLE

    def writable(self) -> bool:
        return self.WRITABLE


class ReadOnlyFile(PythonFileModes):
    """A read-only, seekable file for ``pa.PythonFile(..., mode="r")``: a subclass reads, seeks, tells, sizes.

    Closing it is what ``pa.PythonFile`` sees; a subclass that holds a file closes that too.
    """

    READABLE = SEEKABLE = True

    def close(self) -> None:
        self.closed = True


class WriteOnlyStream(PythonFileModes):
    """A write-only stream for ``pa.PythonFile(..., mode="w")``; a subclass writes, tells and closes."""

    WRITABLE = True
