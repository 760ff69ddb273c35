"""Byte-level inspection of the input files, on the driver, before Spark parses them.

Per file: the header line (-> its format), whether it ends with CRLF (-> a parallel line read) and whether
it ends inside a quoted field (-> its last record is cut off). A ``.csv.gz`` is inflated once, streamed,
and its text checked for UTF-8 on the way; a plain file's bytes are scanned for UTF-8 only when Spark saw
a U+FFFD in it (:func:`scan_utf8`). An API page (``youtube_api``, known by its name) is read whole and its
items checked (``statistics_pages``); a body that is no page is unreadable, quarantined with the reason.
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from lake_io import Store, store_for
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from statistics_formats import STATISTICS_FORMATS, UNKNOWN_FORMAT, ApiPageLayout, detect_format, page_format
from statistics_pages import NotApiPage, chart_offsets, read_items

from youtube_lake.regions import normalize_region

__all__ = [
    "SCAN_CHUNK_BYTES",
    "SourceFile",
    "first_invalid_utf8",
    "inspect_file",
    "inspect_files",
    "inspect_gzip",
    "is_compressed",
    "not_utf8_reason",
    "region_of",
    "scan_utf8",
]

#: Bytes the driver reads at a time when it streams a file.
SCAN_CHUNK_BYTES = 8 * 1024**2
#: The longest header line read from a gzip stream (a real header is a few hundred bytes).
MAX_HEADER_BYTES = 64 * 1024
#: Files without a final newline are checked for quote parity on the driver up to this many bytes in
#: total (a Spark job costs more than reading a few MB); beyond, in parallel with Spark.
DRIVER_PARITY_BYTES = 64 * 1024**2


@dataclass(frozen=True)
class SourceFile:
    """One input CSV as listed before reading: what the driver learns from its first and last bytes."""

    path: str
    size: int
    region: str | None
    format: str
    header: str
    #: The file ends inside a quoted field (odd number of ``"``): its last record was cut off.
    truncated: bool = False
    #: The file ends with CRLF (Kaggle original): it can be read as CRLF-separated lines, split in parallel.
    crlf: bool = False
    #: Why the file cannot be read at all (``not_gzip: …``): it is quarantined without being parsed.
    unreadable: str | None = None
    #: A plain file whose last byte is not a newline: its quotes are counted to set ``truncated``.
    unterminated: bool = False
    #: A ``.gz`` file's ``not_utf8: …`` reason (None: its text is UTF-8), found while it was inflated.
    not_utf8: str | None = None
    #: An API page's items (checked, as parsed): its rows are built from them when it is read.
    items: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    #: An API page: the chart rank of its first item (the items of its fetch's earlier pages, plus 1).
    first_rank: int = 1
    #: An API page: the day its chart is of (the plan's arrival of the page, i.e. its landing date).
    day: date | None = None


def region_of(path: str) -> str | None:
    """``region=xx`` folder of a path, lower case; None when the file is not in such a folder."""
    for part in reversed(path.split("/")[:-1]):
        if part.lower().startswith("region="):
            return normalize_region(part.split("=", 1)[1])
    return None


def is_compressed(path: str) -> bool:
    """A ``.gz`` object: Spark inflates it by its extension, one task per file (gzip is not splittable)."""
    return path.endswith(".gz")


# ---- UTF-8 ---------------------------------------------------------------------------------------


class Utf8Check:
    """Finds the first byte not valid in UTF-8 in a stream fed in chunks, in order.

    A leading BOM is valid UTF-8 (EF BB BF), and so is a real U+FFFD (EF BF BD). A sequence cut by a chunk
    boundary is carried over to the next chunk; one still incomplete at the end is invalid.
    """

    def __init__(self) -> None:
        self.offset = 0
        self.carry = b""
        self.invalid: tuple[int, int] | None = None

    def feed(self, chunk: bytes) -> None:
        if self.invalid is not None:
            return
        data = self.carry + chunk
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.reason != "unexpected end of data" or error.end != len(data):
                self.invalid = (self.offset + error.start, data[error.start])
                return
            self.offset, self.carry = self.offset + error.start, data[error.start :]
        else:
            self.offset, self.carry = self.offset + len(data), b""

    def result(self) -> tuple[int, int] | None:
        """(offset, value) of the first invalid byte, or None."""
        if self.invalid is None and self.carry:
            return self.offset, self.carry[0]
        return self.invalid


def first_invalid_utf8(chunks: Iterable[bytes]) -> tuple[int, int] | None:
    """(offset, value) of the first byte of ``chunks`` (one stream, in order) not valid in UTF-8, or None."""
    check = Utf8Check()
    for chunk in chunks:
        check.feed(chunk)
        if check.invalid is not None:
            break
    return check.result()


def not_utf8_reason(invalid: tuple[int, int], compressed: bool = False) -> str:
    """``not_utf8: byte 0xE9 at offset 1234`` (offset in the decompressed text of a ``.gz`` object)."""
    offset, value = invalid
    where = " of the decompressed text" if compressed else ""
    return f"not_utf8: byte 0x{value:02X} at offset {offset}{where}"


def stream_chunks(stream: BinaryIO | gzip.GzipFile, size: int = SCAN_CHUNK_BYTES) -> Iterable[bytes]:
    return iter(lambda: stream.read(size), b"")


def scan_utf8(store: Store, uri: str) -> str | None:
    """The ``not_utf8`` reason of an object whose bytes are not valid UTF-8 (streamed), else None."""
    with store.open_binary(uri) as raw:
        compressed = is_compressed(uri)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        invalid = first_invalid_utf8(stream_chunks(stream))
    return not_utf8_reason(invalid, compressed) if invalid else None


# ---- gzip ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GzipText:
    """What one pass over a ``.csv.gz`` learns: header line, cut-off last record, first invalid byte."""

    header: str
    ends_in_quotes: bool
    invalid_utf8: tuple[int, int] | None


def read_gzip_text(raw: BinaryIO) -> GzipText:
    """Inflate a gzip-compressed CSV once, streamed in chunks; raises on a stream that is not complete gzip.

    It ends inside a quoted field when its text has no final newline and an odd number of ``"``.
    """
    check = Utf8Check()
    with gzip.GzipFile(fileobj=raw) as text:
        first = text.readline(MAX_HEADER_BYTES)
        check.feed(first)
        quotes, last = first.count(b'"'), first[-1:]
        for chunk in stream_chunks(text):
            quotes, last = quotes + chunk.count(b'"'), chunk[-1:]
            check.feed(chunk)
    header = first.split(b"\n", 1)[0].decode("utf-8", "replace")
    ends_in_quotes = bool(last) and last not in (b"\n", b"\r") and quotes % 2 == 1
    return GzipText(header, ends_in_quotes, check.result())


def inspect_gzip(raw: BinaryIO) -> tuple[str, bool]:
    """The header line of a gzip-compressed CSV, and whether its text ends inside a quoted field."""
    text = read_gzip_text(raw)
    return text.header, text.ends_in_quotes


def _inspect_gzip_file(store: Store, path: str, size: int) -> SourceFile:
    """No seeking in a gzip stream: the driver inflates it, streamed, to see its first and last bytes."""
    try:
        with store.open_binary(path) as raw:
            text = read_gzip_text(raw)
    except (OSError, EOFError, zlib.error) as error:
        reason = f"not_gzip: {error}"
        return SourceFile(path, size, region_of(path), UNKNOWN_FORMAT, "", unreadable=reason)
    return SourceFile(
        path,
        size,
        region_of(path),
        detect_format(text.header),
        text.header[:300],
        truncated=text.ends_in_quotes,
        not_utf8=not_utf8_reason(text.invalid_utf8, compressed=True) if text.invalid_utf8 else None,
    )


# ---- plain files, through Hadoop's file system (s3:// and local paths alike) ---------------------


def _jvm(spark: SparkSession) -> Any:
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("no JVM behind this SparkSession")
    return jvm


def hadoop_fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Path) of ``path``."""
    jvm = _jvm(spark)
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(conf), hpath


def _inspect_plain_file(spark: SparkSession, path: str, size: int) -> SourceFile:
    """Header line and last two bytes, read through a seek (the file is never read whole here)."""
    jvm = _jvm(spark)
    fs, hpath = hadoop_fs(spark, path)
    header, last, before_last = "", -1, -1
    if size:
        stream = fs.open(hpath)
        try:
            reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
            header = reader.readLine() or ""
            stream.seek(max(0, size - 2))
            before_last = stream.read() if size >= 2 else -1
            last = stream.read()
        finally:
            stream.close()
    return SourceFile(
        path,
        size,
        region_of(path),
        detect_format(header),
        header[:300],
        crlf=(before_last, last) == (13, 10),
        unterminated=bool(size) and last not in (10, 13),
    )


# ---- API pages -------------------------------------------------------------------------------------


def _read_object(store: Store, path: str) -> bytes:
    with store.open_binary(path) as raw:
        return raw.read()


def _inspect_page(store: Store, path: str, size: int, fmt: str, layout: ApiPageLayout) -> SourceFile:
    """A page is read whole (≤ 50 items): its items, or why it is no page (then it is unreadable)."""
    try:
        items = tuple(read_items(_read_object(store, path), layout))
    except NotApiPage as error:
        return SourceFile(path, size, region_of(path), fmt, "", unreadable=str(error))
    return SourceFile(path, size, region_of(path), fmt, "", items=items)


def _page_count(store: Store, layout: ApiPageLayout) -> Callable[[str], int | None]:
    """Items of a page the run does not hold (an earlier page of a fetch): None when it is no page."""

    def count(path: str) -> int | None:
        try:
            return len(read_items(_read_object(store, path), layout))
        except (NotApiPage, OSError):
            return None

    return count


def _ranked(sources: list[SourceFile], store: Store | None) -> list[SourceFile]:
    """Each page with the rank of its first item, from the item counts of its fetch's earlier pages."""
    offsets: dict[str, int] = {}
    for fmt in STATISTICS_FORMATS:
        pages = {s.path: s for s in sources if fmt.page and page_format(s.path) is fmt}
        if fmt.page is None or not pages:
            continue
        counts = {path: None if s.unreadable else len(s.items) for path, s in pages.items()}
        count_of = _page_count(store or store_for(next(iter(pages))), fmt.page)
        offsets |= chart_offsets(counts, fmt.page, count_of)
    return [
        dataclasses.replace(s, first_rank=offsets[s.path] + 1) if s.path in offsets else s for s in sources
    ]


# ---- any file --------------------------------------------------------------------------------------


def inspect_file(spark: SparkSession, store: Store, path: str, size: int) -> SourceFile:
    """One file's header, format and ending (quote parity of a plain file is :func:`inspect_files`')."""
    page = page_format(path)
    if page is not None and page.page is not None:
        return _inspect_page(store, path, size, page.name, page.page)
    if is_compressed(path):
        return _inspect_gzip_file(store, path, size)
    return _inspect_plain_file(spark, path, size)


def inspect_files(
    spark: SparkSession, files: Sequence[tuple[str, int]], store: Store | None = None
) -> list[SourceFile]:
    """Header (-> format) and last byte of each file; quote parity for files that do not end in a newline.

    Only files without a final newline can end inside a quoted field unnoticed by the CSV reader, so only
    those are scanned for an odd number of quote characters. API pages get their chart ranks.
    """
    sources = _ranked(
        [inspect_file(spark, store or store_for(path), path, size) for path, size in files], store
    )
    suspects = [s for s in sources if s.unterminated]
    if sum(s.size for s in suspects) <= DRIVER_PARITY_BYTES:
        odd = {s.path for s in suspects if _read_bytes(spark, s.path).count(b'"') % 2 == 1}
    else:
        odd = _odd_quote_files(spark, [s.path for s in suspects])
    return [dataclasses.replace(s, truncated=True) if s.path in odd else s for s in sources]


def _read_bytes(spark: SparkSession, path: str) -> bytes:
    """A whole (small) file through Hadoop's FS, so s3:// and local paths both work."""
    fs, hpath = hadoop_fs(spark, path)
    stream = fs.open(hpath)
    try:
        return bytes(_jvm(spark).org.apache.commons.io.IOUtils.toByteArray(stream))
    finally:
        stream.close()


def _odd_quote_files(spark: SparkSession, paths: Sequence[str]) -> set[str]:
    """Files whose total number of ``"`` characters is odd, i.e. that end inside a quoted field."""
    lines = spark.read.option("wholetext", False).text(list(paths))
    quotes = F.length("value") - F.length(F.replace("value", F.lit('"'), F.lit("")))
    per_file = lines.groupBy(F.input_file_name().alias("file")).agg(F.sum(quotes).alias("quotes"))
    odd = {row["file"] for row in per_file.collect() if row["quotes"] % 2 == 1}
    # input_file_name() gives file:///x where Hadoop listed file:/x: match on the path after the scheme.
    return {p for p in paths if any(_same_file(p, o) for o in odd)}


def _same_file(a: str, b: str) -> bool:
    def strip(uri: str) -> str:
        return uri.split(":", 1)[1].lstrip("/") if ":" in uri else uri.lstrip("/")

    return strip(a) == strip(b)
