"""The JSON-to-Parquet Lambda's configuration and where it writes in S3 (pure: no I/O, no clock).

The handler reads :class:`Config` from the environment on each call (:data:`ENV_VARS`, exactly
``Settings.lambda_environment()``'s keys); every S3 key and URI the function writes is built here:

- output: ``s3://<PROCESSED_BUCKET>/<PROCESSED_PREFIX>region=<xx>/`` holds exactly one object,
  :data:`OUTPUT_FILE`. A fixed name makes re-processing replace the region's data atomically (S3 PUT is
  atomic), so redelivered events, Airflow re-sends and even two concurrent runs for the same region never
  duplicate rows; different regions live under different prefixes and never touch each other.
- quarantine: ``s3://<RAW_BUCKET>/<QUARANTINE_PREFIX>reference_data/date=<YYYY-MM-DD>/<request id>/<key>``
  is a copy of the rejected raw object (``<key>`` = its full original key, so nothing collides) and
  ``…/<key>.error.json`` the error report (reason, detail, source, request id, time). The raw object is
  never moved or deleted. The quarantine prefix lies outside the landing prefix the S3 trigger watches.
- ledger: ``s3://<LEDGER_BUCKET>/<LEDGER_PREFIX><document name>`` per (source key, ETag).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from youtube_lake.columns import CATEGORY_REFERENCE_PARTITION, CATEGORY_REFERENCE_TYPES
from youtube_lake.ledger import document_name
from youtube_lake.regions import is_region_code
from youtube_lake.uris import s3_uri

#: The partition column (a path segment, not stored in the file) and the one object each partition holds.
PARTITION_COLUMN = CATEGORY_REFERENCE_PARTITION
OUTPUT_FILE = "categories.snappy.parquet"

#: Glue/Athena types of the data columns (the lake's contract) and of the partition column.
GLUE_COLUMN_TYPES: dict[str, str] = CATEGORY_REFERENCE_TYPES
GLUE_PARTITION_TYPES: dict[str, str] = {PARTITION_COLUMN: "string"}

#: Environment variables the handler needs (exactly ``Settings.lambda_environment()``'s keys).
ENV_VARS: tuple[str, ...] = (
    "PROCESSED_BUCKET",
    "PROCESSED_PREFIX",
    "RAW_BUCKET",
    "QUARANTINE_PREFIX",
    "GLUE_DATABASE",
    "GLUE_TABLE",
    "ALLOWED_REGIONS",
    "LEDGER_BUCKET",
    "LEDGER_PREFIX",
    "LANDING_PREFIX",
    "CATEGORY_DROP_THRESHOLD",
    "MIN_CATEGORIES",
    "MAX_BODY_BYTES",
)


class ConfigError(RuntimeError):
    """The function's environment is incomplete or unsafe; raised so the invocation fails loudly."""


@dataclass(frozen=True)
class Config:
    """The Lambda's configuration, read from environment variables at call time."""

    processed_bucket: str
    processed_prefix: str
    raw_bucket: str
    quarantine_prefix: str
    glue_database: str
    glue_table: str
    allowed_regions: frozenset[str]
    ledger_bucket: str
    ledger_prefix: str
    landing_prefix: str
    category_drop_threshold: float
    min_categories: int
    max_body_bytes: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        missing = [name for name in ENV_VARS if not environ.get(name, "").strip()]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        value = {name: environ[name].strip() for name in ENV_VARS}
        regions = frozenset(r.strip().lower() for r in value["ALLOWED_REGIONS"].split(",") if r.strip())
        bad = sorted(r for r in regions if not is_region_code(r))
        if bad:
            raise ConfigError(f"ALLOWED_REGIONS holds invalid region codes: {', '.join(bad)}")
        if value["PROCESSED_BUCKET"] == value["RAW_BUCKET"]:
            # Writing Parquet next to the landing files could re-trigger the function forever.
            raise ConfigError(
                f"PROCESSED_BUCKET equals RAW_BUCKET ({value['RAW_BUCKET']!r}): refusing to write into the "
                "raw bucket"
            )
        if value["LEDGER_BUCKET"] == value["RAW_BUCKET"]:
            raise ConfigError(f"LEDGER_BUCKET equals RAW_BUCKET ({value['RAW_BUCKET']!r}): keep raw apart")
        try:
            threshold = float(value["CATEGORY_DROP_THRESHOLD"])
            max_bytes = int(value["MAX_BODY_BYTES"])
        except ValueError as error:
            raise ConfigError(f"CATEGORY_DROP_THRESHOLD / MAX_BODY_BYTES: {error}") from None
        minimum = value["MIN_CATEGORIES"]
        if not (minimum.isascii() and minimum.isdigit()) or int(minimum) < 1:
            raise ConfigError(f"MIN_CATEGORIES={minimum!r} must be a whole number of categories, at least 1")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"CATEGORY_DROP_THRESHOLD={threshold!r} is not a fraction between 0 and 1")
        if max_bytes < 1:
            raise ConfigError(f"MAX_BODY_BYTES={max_bytes!r} must be positive")
        return cls(
            processed_bucket=value["PROCESSED_BUCKET"],
            processed_prefix=_folder(value["PROCESSED_PREFIX"]),
            raw_bucket=value["RAW_BUCKET"],
            quarantine_prefix=_folder(value["QUARANTINE_PREFIX"]),
            glue_database=value["GLUE_DATABASE"],
            glue_table=value["GLUE_TABLE"],
            allowed_regions=regions,
            ledger_bucket=value["LEDGER_BUCKET"],
            ledger_prefix=_folder(value["LEDGER_PREFIX"]),
            landing_prefix=_folder(value["LANDING_PREFIX"]),
            category_drop_threshold=threshold,
            min_categories=int(minimum),
            max_body_bytes=max_bytes,
        )

    @property
    def table_uri(self) -> str:
        return s3_uri(self.processed_bucket, self.processed_prefix)

    def partition_uri(self, region: str) -> str:
        return f"{self.table_uri}{PARTITION_COLUMN}={region}/"

    def output_key(self, region: str) -> str:
        return f"{self.processed_prefix}{PARTITION_COLUMN}={region}/{OUTPUT_FILE}"

    def ledger_key(self, source_key: str, etag: str) -> str:
        return f"{self.ledger_prefix}{document_name(source_key, etag)}"

    def quarantine_keys(self, source_key: str, request_id: str, at: datetime) -> tuple[str, str]:
        """(copy key, report key) in the raw bucket for a rejected object; see the module docstring."""
        safe_request = re.sub(r"[^A-Za-z0-9-]", "_", request_id) or "unknown"
        base = f"{self.quarantine_prefix}reference_data/date={at:%Y-%m-%d}/{safe_request}/{source_key}"
        return base, f"{base}.error.json"


def _folder(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""
