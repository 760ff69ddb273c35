"""pyarrow's view of the runtime's S3, keys with an empty path component included.

S3 keys may start with ``/`` or hold ``//`` (``s3://bucket//table`` is a valid location for S3, Athena and
Glue), but pyarrow's ``S3FileSystem`` refuses every such path ("Empty path component"). The handler here
serves them through boto3 — listings, ranged reads, uploads — and hands every other path to the native
filesystem unchanged, so normal locations keep pyarrow's own (C++) reads and writes.

The runtime's own services (Athena, crawlers, Data Quality) run in the process that holds moto's S3
backend. Their reads — listings, file information, object bytes — come from that backend directly
(:class:`BackendReads`), the way moto's GET handler takes them, without an HTTP request each: a local
Athena query over a partitioned table spent about half its time in those round trips. Their writes still
go through the S3 API, so they behave as any client's (notifications included).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from localaws._pyfs import Handler, ReadOnlyFile, WriteOnlyStream

#: Uploads stay in memory up to this size, then spill to a temporary file.
_SPOOL_BYTES = 8 << 20


def has_empty_component(path: str) -> bool:
    """Whether a pyarrow path ``bucket/key`` names a key that pyarrow's S3 filesystem refuses."""
    return "//" in path.rstrip("/")


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    return bucket, key


def _not_found(error: Exception) -> bool:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _RangedObject(ReadOnlyFile):
    """A read-only, seekable file over one object, read with ranged GETs (what pyarrow's reader asks)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0

    def read(self, nbytes: int | None = -1) -> bytes:
        end = self._size if nbytes is None or nbytes < 0 else min(self._size, self._position + nbytes)
        if end <= self._position:
            return b""
        body = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end - 1}"
        )["Body"].read()
        self._position += len(body)
        return bytes(body)

    def seek(self, position: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._size}[whence]
        self._position = max(0, base + position)
        return self._position

    def tell(self) -> int:
        return self._position

    def size(self) -> int:
        return self._size


class _Upload(WriteOnlyStream):
    """A write-only stream that becomes one object when closed (S3 has no partial objects)."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)

    def write(self, data: bytes) -> int:
        return self._spool.write(data)

    def tell(self) -> int:
        return self._spool.tell()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._spool.seek(0)
            self._client.upload_fileobj(self._spool, self._bucket, self._key)
        finally:
            self._spool.close()


class BackendReads:
    """Objects read from moto's S3 backend in this process, as its GET, HEAD and LIST handlers read them.

    ``get_object`` is the handlers' own lookup: the latest version, never a delete marker, a bucket of
    another account where moto allows it. Object bytes are read whole, as moto reads them for a ranged GET.
    """

    def __init__(self, account: str, region: str) -> None:
        from moto.utilities.utils import get_partition

        self.account = account
        self.partition = get_partition(region)

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account][self.partition]

    def bucket(self, name: str) -> Any:
        """moto's bucket, or None when there is no such bucket."""
        from moto.s3.exceptions import MissingBucket

        try:
            return self._backend().get_bucket(name)
        except MissingBucket:
            return None

    def key(self, bucket: str, key: str) -> Any:
        """The object's current version (moto's ``FakeKey``), or None."""
        from moto.s3.exceptions import MissingBucket

        try:
            return self._backend().get_object(bucket, key)
        except MissingBucket:
            return None

    def objects(self, bucket: str, prefix: str) -> Iterator[tuple[str, int, datetime]]:
        """Name, size and last-modified time of each object under ``prefix``, in key order."""
        from moto.s3.models import FakeKey

        found = self.bucket(bucket)
        if found is None:
            return
        store = found.keys
        names = list(dict.keys(store))  # a copy taken at once: no Python code runs while it is made
        for name in sorted(n for n in names if n.startswith(prefix)):
            current = store.get(name)
            if isinstance(current, FakeKey):  # not a delete marker
                yield name, int(current.size), _utc(current.last_modified)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class S3KeysHandler(Handler):
    """The runtime's S3 for pyarrow: native for normal paths, boto3 for paths with an empty component;
    reads from moto's backend for every path when ``backend`` is given (writes unchanged)."""

    def __init__(
        self, native: pafs.FileSystem, client_factory: Any, backend: BackendReads | None = None
    ) -> None:
        """``client_factory()`` builds a boto3 S3 client (only when a path needs one: it costs ~0.5 s)."""
        self.native = native
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self.backend = backend

    def _direct(self, path: str) -> bool:
        """Whether ``path`` is read through boto3 or the backend rather than the native filesystem."""
        return self.backend is not None or has_empty_component(path)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def get_type_name(self) -> str:
        return "localaws-s3"

    def normalize_path(self, path: str) -> str:
        return path if has_empty_component(path) else str(self.native.normalize_path(path))

    # -- metadata
    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        plain = [p for p in paths if not self._direct(p)]
        native = iter(self.native.get_file_info(plain) if plain else [])  # one call: pyarrow batches them
        return [self._info(p) if self._direct(p) else next(native) for p in paths]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        if not self._direct(selector.base_dir):
            return list(self.native.get_file_info(selector))
        bucket, key = _split(selector.base_dir.rstrip("/"))
        prefix = key + "/" if key else ""
        depth = 1 << 30 if selector.recursive else 0  # pyarrow does not expose max_recursion
        found: dict[str, pafs.FileInfo] = {}
        for name, size, mtime in self._objects(bucket, prefix):
            parts = name[len(prefix) :].split("/")
            for level in range(1, len(parts)):
                if level - 1 <= depth:
                    folder = f"{bucket}/{prefix}" + "/".join(parts[:level])
                    found.setdefault(folder, pafs.FileInfo(folder, pafs.FileType.Directory))
            if parts[-1] and len(parts) - 1 <= depth:
                path = f"{bucket}/{name}"
                found[path] = pafs.FileInfo(path, pafs.FileType.File, size=size, mtime=mtime)
        if not found and not selector.allow_not_found:
            raise FileNotFoundError(f"no such directory: {selector.base_dir}")
        return list(found.values())

    def _objects(self, bucket: str, prefix: str) -> Iterator[tuple[str, int, Any]]:
        if self.backend is not None:
            yield from self.backend.objects(bucket, prefix)
            return
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"]), item["LastModified"]

    def _info(self, path: str) -> pafs.FileInfo:
        if self.backend is not None:
            return self._backend_info(path)
        bucket, key = _split(path)
        if not key.endswith("/"):
            try:
                head = self.client.head_object(Bucket=bucket, Key=key)
                return pafs.FileInfo(
                    path, pafs.FileType.File, size=int(head["ContentLength"]), mtime=head["LastModified"]
                )
            except Exception as error:
                if not _not_found(error):
                    raise
        folder = self.client.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/") + "/", MaxKeys=1)
        kind = pafs.FileType.Directory if folder.get("KeyCount") else pafs.FileType.NotFound
        return pafs.FileInfo(path.rstrip("/"), kind)

    def _backend_info(self, path: str) -> pafs.FileInfo:
        """What the native filesystem answers (HEAD, then a one-key listing), read from the backend."""
        assert self.backend is not None
        bucket, key = _split(path.rstrip("/"))
        if self.backend.bucket(bucket) is None:
            return pafs.FileInfo(path, pafs.FileType.NotFound)
        if not key:
            return pafs.FileInfo(path, pafs.FileType.Directory)
        if not path.endswith("/"):
            found = self.backend.key(bucket, key)
            if found is not None:
                return pafs.FileInfo(
                    path, pafs.FileType.File, size=int(found.size), mtime=_utc(found.last_modified)
                )
        folder = next(self.backend.objects(bucket, key + "/"), None)
        return pafs.FileInfo(path, pafs.FileType.Directory if folder is not None else pafs.FileType.NotFound)

    # -- reading and writing
    def open_input_file(self, path: str) -> Any:
        if not self._direct(path):
            return self.native.open_input_file(path)
        bucket, key = _split(path)
        if self.backend is not None:
            if not key or key.endswith("/"):
                raise OSError(f"Not a regular file: '{path}'")  # pyarrow's words for a folder
            found = self.backend.key(bucket, key)
            if found is None:
                raise FileNotFoundError(f"Path does not exist '{path}'")
            return pa.BufferReader(found.value)
        info = self._info(path)
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(f"Path does not exist '{path}'")
        return pa.PythonFile(_RangedObject(self.client, bucket, key, int(info.size)), mode="r")

    def open_input_stream(self, path: str) -> Any:
        if not self._direct(path):
            return self.native.open_input_stream(path)
        return self.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> Any:
        if not has_empty_component(path):
            return self.native.open_output_stream(path, metadata=metadata)
        return pa.PythonFile(_Upload(self.client, *_split(path)), mode="w")

    def open_append_stream(self, path: str, metadata: Any) -> Any:
        if not has_empty_component(path):
            return self.native.open_append_stream(path, metadata=metadata)
        raise NotImplementedError("S3 objects cannot be appended to")

    # -- changing
    def create_dir(self, path: str, recursive: bool) -> None:
        if not has_empty_component(path):
            self.native.create_dir(path, recursive=recursive)
        # Otherwise nothing: S3 has no folders, a key under the prefix makes one.

    def delete_dir(self, path: str) -> None:
        if not has_empty_component(path):
            self.native.delete_dir(path)
            return
        self._delete_under(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        if not has_empty_component(path):
            self.native.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)
            return
        if not self._delete_under(path) and not missing_dir_ok:
            raise FileNotFoundError(f"no such directory: {path}")

    def delete_root_dir_contents(self) -> None:
        self.native.delete_dir_contents("/", accept_root_dir=True)

    def _delete_under(self, path: str) -> int:
        bucket, key = _split(path.rstrip("/"))
        keys = [name for name, _, _ in self._objects(bucket, key + "/")]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def delete_file(self, path: str) -> None:
        if not has_empty_component(path):
            self.native.delete_file(path)
            return
        if self._info(path).type != pafs.FileType.File:
            raise FileNotFoundError(f"Path does not exist '{path}'")
        self.client.delete_object(Bucket=_split(path)[0], Key=_split(path)[1])

    def copy_file(self, src: str, dest: str) -> None:
        if not has_empty_component(src) and not has_empty_component(dest):
            self.native.copy_file(src, dest)
            return
        (bucket, key), (to_bucket, to_key) = _split(src), _split(dest)
        self.client.copy({"Bucket": bucket, "Key": key}, to_bucket, to_key)

    def move(self, src: str, dest: str) -> None:
        if not has_empty_component(src) and not has_empty_component(dest):
            self.native.move(src, dest)
            return
        self.copy_file(src, dest)
        self.delete_file(src)
