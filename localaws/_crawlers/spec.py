"""What a crawl decides, as pure functions: target folders, table names, partitions, merged schemas,
the catalog parameters it records and the outcome it reports. No I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from localaws._aws import as_folder, split_s3_uri
from localaws._catalog import PARQUET, StorageFormat, is_hidden


class CrawlError(Exception):
    """A crawl fails; the message becomes ``LastCrawl.ErrorMessage``."""


class Cancelled(Exception):
    """StopCrawler was called; the crawl ends CANCELLED."""


# ---- naming, paths, exclusions ----------------------------------------------------------------------
def target_folder(path: str) -> tuple[str, str]:
    """An S3 target ``s3://bucket/a/b`` or ``bucket/a/b`` (the console and API accept both) -> (``bucket``,
    ``a/b/``): a target is always a folder."""
    text = path.strip()
    try:
        bucket, prefix = split_s3_uri(text if "://" in text else f"s3://{text.lstrip('/')}")
    except ValueError:
        raise CrawlError(
            f"invalid S3 target {path!r}: expected s3://bucket/prefix or bucket/prefix"
        ) from None
    return bucket, as_folder(prefix)


def table_name(prefix: str, table_prefix: str = "") -> str:
    """The crawler's table name for a target folder: its last segment, lower case, ``[a-z0-9_]`` only."""
    folder = prefix.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^a-z0-9_]", "_", (table_prefix + folder).lower())


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a crawler exclusion glob (``*`` within a folder, ``**`` across folders, ``?``, ``[!..]``,
    ``{a,b}``) relative to the target folder."""
    out: list[str] = []
    i, depth = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def partition_of(relative_key: str) -> tuple[tuple[str, str], ...]:
    """Partition (key, value) pairs from the folders between the target and the file.

    ``region=us/part.parquet`` -> ``(("region", "us"),)``; a folder without ``=`` becomes ``partition_<i>``
    as in the real crawler.
    """
    folders = relative_key.split("/")[:-1]
    pairs = []
    for index, folder in enumerate(folders):
        key, sep, value = folder.partition("=")
        pairs.append((key.lower(), value) if sep else (f"partition_{index}", folder))
    return tuple(pairs)


@dataclass
class TargetPlan:
    """What one target holds: the files per partition, and what was left out and why."""

    bucket: str
    prefix: str
    table: str
    partition_keys: tuple[str, ...] = ()
    files: dict[tuple[str, ...], list[tuple[str, int]]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def partition_location(self, values: Sequence[str]) -> str:
        folders = "".join(
            f"{k}={v}/" if not k.startswith("partition_") else f"{v}/"
            for k, v in zip(self.partition_keys, values, strict=True)
        )
        return f"{self.location}{folders}"


def plan_target(
    bucket: str,
    prefix: str,
    objects: Iterable[tuple[str, int]],
    exclusions: Sequence[str] = (),
    table_prefix: str = "",
) -> TargetPlan:
    """Group a target's objects by partition; the first file's folder layout fixes the partition keys."""
    patterns = [glob_to_regex(p) for p in exclusions]
    plan = TargetPlan(bucket=bucket, prefix=prefix, table=table_name(prefix, table_prefix))
    layout: tuple[str, ...] | None = None
    for key, size in sorted(objects):
        relative = key[len(prefix) :]
        if not relative or is_hidden(relative) or size == 0:
            continue
        if any(p.match(relative) for p in patterns):
            plan.skipped.append((key, "excluded"))
            continue
        pairs = partition_of(relative)
        keys = tuple(k for k, _ in pairs)
        if layout is None:
            layout = keys
        if keys != layout:
            plan.skipped.append((key, f"partition layout {list(keys)} differs from {list(layout)}"))
            continue
        plan.files.setdefault(tuple(v for _, v in pairs), []).append((key, size))
    plan.partition_keys = layout or ()
    return plan


# ---- schema merging ---------------------------------------------------------------------------------
_NUMERIC_RANK = {"tinyint": 0, "smallint": 1, "int": 2, "bigint": 3, "float": 4, "double": 5}


def widen(a: str, b: str) -> str | None:
    """The type both values fit in, as CombineCompatibleSchemas merges them; None when incompatible."""
    if a == b:
        return a
    if a in _NUMERIC_RANK and b in _NUMERIC_RANK:
        wider = max(a, b, key=_NUMERIC_RANK.__getitem__)
        # bigint with float loses precision in float: Hive promotes both to double.
        return "double" if {wider, min(a, b, key=_NUMERIC_RANK.__getitem__)} == {"float", "bigint"} else wider
    return None


def merge_schemas(
    schemas: Sequence[tuple[str, Sequence[tuple[str, str]]]],
    combine: Callable[[str, str], str | None] = widen,
) -> list[tuple[str, str]]:
    """Union of ``(file, [(column, type)])`` in first-seen order, types combined (Parquet: :func:`widen`).

    Raises CrawlError when a column's types cannot be combined."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for source, columns in schemas:
        for name, kind in columns:
            name = name.lower()
            if name not in merged:
                merged[name], origin[name] = kind, source
                continue
            combined = combine(merged[name], kind)
            if combined is None:
                raise CrawlError(
                    f"incompatible schemas: column {name!r} is {merged[name]} in {origin[name]} "
                    f"and {kind} in {source}"
                )
            merged[name] = combined
    return list(merged.items())


def evolve_columns(
    existing: Sequence[tuple[str, str]], found: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """New table columns on a recrawl: existing order kept (types updated), new columns appended; columns
    no file holds any more are dropped, as the crawler rewrites the schema from what it found."""
    found_map = dict(found)
    kept = [(name, found_map[name]) for name, _ in existing if name in found_map]
    known = {name for name, _ in kept}
    return kept + [(name, kind) for name, kind in found if name not in known]


# ---- what is recorded ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileInfo:
    key: str
    size: int
    #: Records (exact for Parquet; estimated from the sample for text, as AWS does).
    rows: int
    compression: str
    columns: tuple[tuple[str, str], ...]
    classification: str = "parquet"
    stored_as: StorageFormat = PARQUET
    #: CSV only: what the classifier found (recorded in the table's parameters).
    csv: tuple[str, bool, bool] | None = None  # (delimiter, quoted, header)

    @property
    def layout(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        """What files of one table must share: classification, SerDe and its properties."""
        return (
            self.classification,
            self.stored_as.serde,
            tuple(sorted(self.stored_as.serde_parameters.items())),
        )


def data_parameters(crawler: str, files: Sequence[FileInfo]) -> dict[str, str]:
    """The table/partition parameters a crawler records for the files' classification."""
    records = sum(f.rows for f in files)
    size = sum(f.size for f in files)
    codecs = sorted({f.compression for f in files})
    parameters = {
        "classification": files[0].classification if files else "parquet",
        "compressionType": codecs[0] if len(codecs) == 1 else "mixed",
        "typeOfData": "file",
        "recordCount": str(records),
        "objectCount": str(len(files)),
        "sizeKey": str(size),
        "averageRecordSize": str(size // records if records else 0),
        "UPDATED_BY_CRAWLER": crawler,
        "CrawlerSchemaSerializerVersion": "1.0",
        "CrawlerSchemaDeserializerVersion": "1.0",
    }
    csv = files[0].csv if files else None
    if csv is not None:
        delimiter, quoted, header = csv
        parameters |= {
            "delimiter": delimiter,
            "areColumnsQuoted": str(quoted).lower(),
            "columnsOrdered": "true",
        }
        if header:
            parameters["skip.header.line.count"] = "1"
    return parameters


@dataclass(frozen=True)
class CrawlerSpec:
    """What a crawl needs from the crawler's definition, taken when it starts."""

    name: str
    database: str
    targets: tuple[tuple[str, tuple[str, ...]], ...]
    table_prefix: str = ""
    update_behavior: str = "UPDATE_IN_DATABASE"
    delete_behavior: str = "LOG"
    partitions_inherit: bool = True

    @classmethod
    def from_moto(cls, crawler: Any) -> CrawlerSpec:
        targets = tuple(
            (t["Path"], tuple(t.get("Exclusions") or ()))
            for t in (crawler.targets or {}).get("S3Targets", [])
        )
        policy = crawler.schema_change_policy or {}
        inherit = True
        if crawler.configuration:
            try:
                config = json.loads(crawler.configuration)
                behavior = config.get("CrawlerOutput", {}).get("Partitions", {}).get("AddOrUpdateBehavior")
                inherit = behavior in (None, "InheritFromTable")
            except ValueError:
                pass
        return cls(
            name=crawler.name,
            database=crawler.database_name,
            targets=targets,
            table_prefix=crawler.table_prefix or "",
            update_behavior=policy.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
            delete_behavior=policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE"),
            partitions_inherit=inherit,
        )


@dataclass
class CrawlOutcome:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_deleted: int = 0
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return json.dumps(
            {
                "TABLE": {
                    "ADD": {"Count": self.tables_created},
                    "UPDATE": {"Count": self.tables_updated},
                    "DELETE": {"Count": self.tables_deleted},
                },
                "PARTITION": {
                    "ADD": {"Count": self.partitions_added},
                    "DELETE": {"Count": self.partitions_deleted},
                },
            }
        )
