"""The processed layout: one partition per region and trending day, one object per partition.

``region=us/dt=2017-11-14`` names a partition in the ledger, the metrics and the Glue jobs alike.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The one object of every partition folder.
PARTITION_OBJECT = "data.snappy.parquet"
#: The partition columns, outermost first.
PARTITION_COLUMNS = ("region", "dt")


def partition_name(region: str, day: str) -> str:
    """``region=us/dt=2017-11-14``."""
    return f"region={region}/dt={day}"


def parse_partition(name: str) -> tuple[str, str]:
    """``region=us/dt=2017-11-14`` -> ``("us", "2017-11-14")``; ValueError for another shape."""
    parts = name.strip("/").split("/")
    if len(parts) != 2 or not parts[0].startswith("region=") or not parts[1].startswith("dt="):
        raise ValueError(f"{name!r} is not a partition name region=xx/dt=YYYY-MM-DD")
    return parts[0].removeprefix("region="), parts[1].removeprefix("dt=")


def partition_of(relative: str) -> str | None:
    """The partition of a path below a table root (``region=us/dt=2017-11-14/x.parquet``), else None."""
    parts = relative.split("/")
    if len(parts) >= 3 and parts[0].startswith("region=") and parts[1].startswith("dt="):
        return f"{parts[0]}/{parts[1]}"
    return None


def partition_regions(partitions: Iterable[str]) -> set[str]:
    """``{"region=us/dt=2017-11-14", ...}`` -> ``{"us", ...}`` (other names are left out)."""
    return {p.split("/", 1)[0].split("=", 1)[1] for p in partitions if p.startswith("region=")}
