"""The services' S3 reads from moto's backend answer exactly what the S3 API answers, with no request.

Athena, the crawler and Data Quality run in the runtime's process and read through ``s3_filesystem(...,
account)``: listings, file information and object bytes come from moto's backend directly. Here each answer
is compared with the same filesystem without ``account``, which asks the S3 API over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pyarrow.fs as pafs
import pytest

from localaws import LocalAWS
from localaws._aws import s3_filesystem
from localaws._s3fs import BackendReads, S3KeysHandler

BUCKET = "localaws-s3fs-reads"
VERSIONED = "localaws-s3fs-versioned"
OBJECTS = {
    "t/region=ca/part-0.parquet": b"PAR1 ca",
    "t/region=us/part-0.parquet": b"PAR1 us, a little longer",
    "t/region=us/deep/part-1.parquet": b"deeper",
    "t/_SUCCESS": b"",
    "t/folder/": b"",  # a console-made folder marker
    "tx": b"a sibling whose name starts like the prefix",
    "/lead/x.csv": b"a,b\n1,2\n",  # s3://bucket//lead/x.csv: the empty path component
    "in//ner.csv": b"c\n3\n",
}
#: Paths asked about: files, folders with and without a slash, the bucket, missing things.
PATHS = [
    *(f"{BUCKET}/{key}" for key in OBJECTS if not key.endswith("/")),
    f"{BUCKET}/t",
    f"{BUCKET}/t/",
    f"{BUCKET}/t/region=us",
    f"{BUCKET}/t/folder",
    f"{BUCKET}/t/nothing",
    f"{BUCKET}/",
    f"{BUCKET}//lead",
    f"{VERSIONED}/kept.csv",
    f"{VERSIONED}/gone.csv",
    "localaws-s3fs-no-such-bucket/x",
]
SELECTORS = [
    (f"{BUCKET}/t", True),
    (f"{BUCKET}/t", False),
    (f"{BUCKET}/t/region=us", False),
    (BUCKET, True),
    (f"{BUCKET}//lead", True),
    (VERSIONED, True),
]


@pytest.fixture(scope="module")
def objects(aws: LocalAWS) -> Iterator[None]:
    s3 = aws.client("s3")
    for bucket in (BUCKET, VERSIONED):
        s3.create_bucket(Bucket=bucket)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
    for key in ("kept.csv", "gone.csv"):
        s3.put_object(Bucket=VERSIONED, Key=key, Body=b"v1")
    s3.put_object(Bucket=VERSIONED, Key="kept.csv", Body=b"v2, the latest")
    s3.delete_object(Bucket=VERSIONED, Key="gone.csv")  # its latest version is a delete marker
    yield
    for bucket in (BUCKET, VERSIONED):
        for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        for marker in s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=marker["Key"], VersionId=marker["VersionId"])
        s3.delete_bucket(Bucket=bucket)


@pytest.fixture(scope="module")
def direct(aws: LocalAWS, objects: None) -> pafs.FileSystem:
    return s3_filesystem(aws.endpoint, aws.region, aws.account_id)


@pytest.fixture(scope="module")
def over_http(aws: LocalAWS, objects: None) -> pafs.FileSystem:
    return s3_filesystem(aws.endpoint, aws.region)


def described(info: pafs.FileInfo) -> tuple[str, str, int | None]:
    return info.path, info.type.name, info.size if info.type == pafs.FileType.File else None


def read_or_error(fs: pafs.FileSystem, path: str) -> bytes | str:
    try:
        with fs.open_input_file(path) as file:
            return bytes(file.read())
    except OSError as error:  # FileNotFoundError for a missing object, OSError for a folder
        return type(error).__name__


@pytest.mark.parametrize("path", PATHS)
def test_file_information_is_the_s3_apis(direct: Any, over_http: Any, path: str) -> None:
    (mine,), (theirs,) = direct.get_file_info([path]), over_http.get_file_info([path])
    assert described(mine) == described(theirs)
    if theirs.type == pafs.FileType.File:
        assert abs(mine.mtime - theirs.mtime) < timedelta(seconds=1)


@pytest.mark.parametrize(("base", "recursive"), SELECTORS)
def test_listings_are_the_s3_apis(direct: Any, over_http: Any, base: str, recursive: bool) -> None:
    selector = pafs.FileSelector(base, recursive=recursive)
    mine = sorted(described(i) for i in direct.get_file_info(selector))
    assert mine == sorted(described(i) for i in over_http.get_file_info(selector))
    assert mine, "every selector here lists something"
    assert f"{VERSIONED}/gone.csv" not in {path for path, _, _ in mine}


def test_a_missing_folder_lists_as_s3_does(direct: Any, over_http: Any) -> None:
    missing = f"{BUCKET}/t/nothing"
    for fs in (direct, over_http):
        assert fs.get_file_info(pafs.FileSelector(missing, allow_not_found=True)) == []
        with pytest.raises(FileNotFoundError):
            fs.get_file_info(pafs.FileSelector(missing))


@pytest.mark.parametrize("path", PATHS)
def test_object_bytes_are_the_s3_apis(direct: Any, over_http: Any, path: str) -> None:
    mine = read_or_error(direct, path)
    assert mine == read_or_error(over_http, path)
    key = path.partition("/")[2]
    if path.startswith(f"{BUCKET}/") and key in OBJECTS:
        assert mine == OBJECTS[key]


def test_reads_make_no_request(aws: LocalAWS, objects: None) -> None:
    """With the backend, neither pyarrow's S3 client nor boto3 is asked: both point at nothing here."""

    def no_client() -> Any:
        raise AssertionError("a read asked the S3 API")

    nowhere = pafs.S3FileSystem(
        access_key="x", secret_key="x", endpoint_override="127.0.0.1:9", scheme="http", connect_timeout=0.5
    )
    fs = pafs.PyFileSystem(S3KeysHandler(nowhere, no_client, BackendReads(aws.account_id, aws.region)))
    listed = fs.get_file_info(pafs.FileSelector(f"{BUCKET}/t", recursive=True))
    assert f"{BUCKET}/t/region=ca/part-0.parquet" in {i.path for i in listed}
    assert read_or_error(fs, f"{BUCKET}/t/region=us/part-0.parquet") == OBJECTS["t/region=us/part-0.parquet"]
    assert read_or_error(fs, f"{VERSIONED}/kept.csv") == b"v2, the latest"
    (info,) = fs.get_file_info([f"{BUCKET}//lead/x.csv"])
    assert (info.type, info.size) == (pafs.FileType.File, len(OBJECTS["/lead/x.csv"]))
