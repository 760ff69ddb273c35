"""Publishing partitioned Parquet atomically for readers: the object I/O both Glue jobs share.

A partition (``region=us/dt=2017-11-14/``) holds exactly one object with a fixed name. A job writes its
partitions to a staging folder inside the target (``_``-prefixed: Spark, Athena and the crawlers skip it),
then publishes each with one S3 ``CopyObject`` onto the fixed name — a reader lists the previous object or
the new one, never none — and only then deletes what else the partition folder holds. S3 goes through
boto3 (Glue provides it; endpoint and credentials come from the environment, so the code does not know
whether it runs on AWS or on the local runtime); a local folder goes through the file system, where
``os.replace`` is the atomic step (tests, benchmarks).

Deployed next to the job scripts and given to them with ``--extra-py-files``, as is ``youtube_lake.zip``:
URIs, partition names and run folders are the lake's contracts (``youtube_lake``), re-exported here for
the scripts that import them from this module.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from youtube_lake.partitions import PARTITION_OBJECT, partition_of
from youtube_lake.uris import is_s3_uri, split_s3_uri

__all__ = [
    "PARTITION_OBJECT",
    "LocalStore",
    "S3Store",
    "Store",
    "commit",
    "partition_of",
    "published_objects",
    "staged_objects",
    "store_for",
]


class Store:
    """The object operations the plan check, the commit and the ledger need."""

    def read_text(self, uri: str) -> str | None:
        raise NotImplementedError

    def write_text(self, uri: str, text: str) -> None:
        raise NotImplementedError

    def head(self, uri: str) -> tuple[str, str | None] | None:
        """(ETag without quotes, version id) of the current object; None when it does not exist."""
        raise NotImplementedError

    def open_binary(self, uri: str) -> BinaryIO:
        """The object's bytes as a stream (read in chunks: nothing is held whole in memory)."""
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        """URIs of every object below ``prefix`` (a folder URI ending in ``/``), recursively."""
        raise NotImplementedError

    def copy(self, source: str, destination: str) -> None:
        """Replace ``destination`` by a copy of ``source`` in one atomic step."""
        raise NotImplementedError

    def delete(self, uris: Sequence[str]) -> None:
        raise NotImplementedError

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object below ``prefix``; returns how many."""
        uris = self.list(prefix)
        if uris:
            self.delete(uris)
        return len(uris)


class S3Store(Store):
    """S3 with boto3; the endpoint and credentials come from the environment, as everywhere on Glue."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.s3 = client

    split = staticmethod(split_s3_uri)

    def read_text(self, uri: str) -> str | None:
        bucket, key = self.split(uri)
        try:
            return str(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))
        except self.s3.exceptions.NoSuchKey:
            return None

    def write_text(self, uri: str, text: str) -> None:
        bucket, key = self.split(uri)
        content_type = "application/json" if key.endswith(".json") else "text/plain"
        self.s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)

    def head(self, uri: str) -> tuple[str, str | None] | None:
        bucket, key = self.split(uri)
        try:
            response = self.s3.head_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        version = response.get("VersionId")
        return str(response["ETag"]).strip('"'), None if version in (None, "null") else str(version)

    def open_binary(self, uri: str) -> BinaryIO:
        bucket, key = self.split(uri)
        body: BinaryIO = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
        return body

    def list(self, prefix: str) -> list[str]:
        bucket, key = self.split(prefix)
        scheme = prefix.split("://", 1)[0]
        out: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            out.extend(f"{scheme}://{bucket}/{o['Key']}" for o in page.get("Contents", []))
        return out

    def copy(self, source: str, destination: str) -> None:
        src_bucket, src_key = self.split(source)
        bucket, key = self.split(destination)
        # One CopyObject: the destination key switches from the old object to the new one at once.
        self.s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": src_bucket, "Key": src_key})

    def delete(self, uris: Sequence[str]) -> None:
        by_bucket: dict[str, list[str]] = {}
        for uri in uris:
            bucket, key = self.split(uri)
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), 1000):
                chunk = [{"Key": k} for k in keys[start : start + 1000]]
                response = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
                if response.get("Errors"):
                    raise RuntimeError(f"could not delete from s3://{bucket}/: {response['Errors'][:3]}")


class LocalStore(Store):
    """A local folder (tests, benchmarks): ``os.replace`` is the atomic step."""

    @staticmethod
    def path(uri: str) -> Path:
        return Path(uri.removeprefix("file://").removeprefix("file:"))

    def read_text(self, uri: str) -> str | None:
        path = self.path(uri)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write_text(self, uri: str, text: str) -> None:
        path = self.path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def head(self, uri: str) -> tuple[str, str | None] | None:
        path = self.path(uri)
        if not path.is_file():
            return None
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest(), None

    def open_binary(self, uri: str) -> BinaryIO:
        return self.path(uri).open("rb")

    def list(self, prefix: str) -> list[str]:
        root = self.path(prefix)
        if not root.is_dir():
            return []
        return sorted(str(p) for p in root.rglob("*") if p.is_file())

    def copy(self, source: str, destination: str) -> None:
        target = self.path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        shutil.copyfile(self.path(source), temporary)
        os.replace(temporary, target)

    def delete(self, uris: Sequence[str]) -> None:
        for uri in uris:
            self.path(uri).unlink(missing_ok=True)
        # A partition folder (and its region folder) left empty goes too: S3 has no folders.
        for folder in sorted({self.path(u).parent for u in uris}, key=lambda p: -len(p.parts)):
            for candidate in (folder, folder.parent):
                if candidate.is_dir() and not any(candidate.iterdir()):
                    candidate.rmdir()

    def delete_prefix(self, prefix: str) -> int:
        count = len(self.list(prefix))
        folder = self.path(prefix)
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent.is_dir() and not any(folder.parent.iterdir()):
            folder.parent.rmdir()  # e.g. the staging folder once its last run folder is gone
        return count


def store_for(uri: str) -> Store:
    return S3Store() if is_s3_uri(uri) else LocalStore()


def staged_objects(store: Store, root: str) -> dict[str, str]:
    """Partition -> its one staged Parquet object (Spark's ``_SUCCESS`` and the like are skipped)."""
    out: dict[str, str] = {}
    prefix = root.rstrip("/") + "/"
    for uri in store.list(prefix):
        relative = uri[len(prefix) :] if uri.startswith(prefix) else uri.rsplit(root.rstrip("/") + "/", 1)[-1]
        name = relative.rsplit("/", 1)[-1]
        partition = partition_of(relative)
        if partition is None or name.startswith(("_", ".")) or not name.endswith(".parquet"):
            continue
        if partition in out:
            raise RuntimeError(
                f"two staged objects for {partition} (one per partition expected): {out[partition]}, {uri}"
            )
        out[partition] = uri
    return out


def published_objects(
    store: Store, target: str, regions: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Objects in the target's folders of ``regions`` (every ``region=`` folder when None): partition ->
    its objects, ``""`` -> objects of those folders outside any ``dt=`` folder."""
    out: dict[str, list[str]] = {}
    root = target.rstrip("/") + "/"
    prefixes = [root] if regions is None else [f"{root}region={r}/" for r in sorted(set(regions))]
    for prefix in prefixes:
        for uri in store.list(prefix):
            relative = uri[len(root) :]
            if not relative.startswith("region="):
                continue  # staging folders and the like
            out.setdefault(partition_of(relative) or "", []).append(uri)
    return out


def commit(
    store: Store,
    target: str,
    final: Mapping[str, str],
    emptied: Iterable[str],
    published: Mapping[str, list[str]],
) -> list[str]:
    """Publish each partition with one copy onto its fixed name, then delete what else its folder holds.

    ``emptied``: rebuilt partitions left without rows (deleted). Objects of the touched regions outside any
    ``dt=`` folder (the region-only layout before daily partitions) are deleted last. Returns the deleted
    partitions.
    """
    root = target.rstrip("/") + "/"
    for partition, uri in sorted(final.items()):
        store.copy(uri, f"{root}{partition}/{PARTITION_OBJECT}")
    strays = [
        uri
        for partition in final
        for uri in published.get(partition, [])
        if uri != f"{root}{partition}/{PARTITION_OBJECT}"
    ]
    deleted = sorted(p for p in emptied if p not in final and published.get(p))
    strays += [uri for p in deleted for uri in published[p]]
    strays += published.get("", [])
    if strays:
        store.delete(strays)
    return deleted
