"""One day's increment on an empty lake vs on a lake holding 1M rows of history, beside a full refresh.

The daily cost must stay flat in history (target: increment on history / increment on an empty lake ≤ 1.3x)
while a full refresh — what every run did before daily partitions — grows with it. Rows are real records of
the Kaggle US file (bare CRs, ``"a"|"b"`` tags, literal ``\\n``) with fresh video ids, spread over 11 regions
and ``HISTORY_DAYS`` trending days; a day's drop is 200 rows per region (~2,200 rows, as the real feed).
The real planner and ``clean_statistics.run`` run in one warm SparkSession over local folders
(``local.increments``): the Glue executor's process start is the same for every case and left out.
Each case runs ``REPEAT`` times; the median is printed. ``BENCH_INCREMENT_ROWS`` changes the history size.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import string
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_glue import seed_records
from youtube_etl.settings import KNOWN_REGIONS

HISTORY_ROWS = int(os.environ.get("BENCH_INCREMENT_ROWS", "1000000"))
REGIONS = KNOWN_REGIONS
ROWS_PER_REGION_DAY = 200
REPEAT = 3
TARGET_RATIO = 1.3
FIRST_DAY = date(2017, 11, 14)
STATS = "youtube/raw_statistics/"


def records(day: date, count: int, rng: random.Random, pool: list[bytes]) -> list[bytes]:
    alphabet = (string.ascii_letters + string.digits + "-_").encode()
    stamp = day.strftime("%y.%d.%m").encode()
    out = []
    for _ in range(count):
        video_id = bytes(rng.choice(alphabet) for _ in range(11))
        out.append(video_id + b"," + stamp + rng.choice(pool)[20:] + b"\r\n")
    return out


def history_days() -> int:
    return max(1, HISTORY_ROWS // (ROWS_PER_REGION_DAY * len(REGIONS)))


def write_history(lake: Any, header: bytes, pool: list[bytes]) -> date:
    """One file per region holding every history day (arriving the day after its last day)."""
    rng = random.Random(20171114)
    days = [FIRST_DAY + timedelta(days=i) for i in range(history_days())]
    arrival = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    for region in REGIONS:
        body = b"".join(b"".join(records(d, ROWS_PER_REGION_DAY, rng, pool)) for d in days)
        lake.put(f"{STATS}region={region}/{region.upper()}videos.csv", header + body, arrival)
    return days[-1] + timedelta(days=1)


def write_day(lake: Any, day: date, header: bytes, pool: list[bytes]) -> None:
    rng = random.Random(day.toordinal())
    for region in REGIONS:
        body = b"".join(records(day, ROWS_PER_REGION_DAY, rng, pool))
        lake.put(
            f"{STATS}landing_date={day.isoformat()}/region={region}/{region.upper()}videos.csv",
            header + body,
            datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2),
        )


def session() -> Any:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> None:
    from local.increments import FolderLake

    header, pool = seed_records()
    work = Path(tempfile.mkdtemp(prefix="bench_increments_"))
    spark = session()
    try:
        started = time.perf_counter()
        history = FolderLake(work / "history")
        day = write_history(history, header, pool)
        # The history files arrive at the start of ``day`` (the day after their last day): the interval that
        # takes them must end after that instant ([start, end) excludes an arrival at ``end``).
        built = history.ingest(
            spark,
            datetime(2000, 1, 1, tzinfo=UTC),
            datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
        )
        if not built.files or not sum(f.written for f in built.files):
            raise RuntimeError(f"the history run took no rows: {built.metrics()}")
        rows = sum(f.written for f in built.files)
        print(
            f"history: {rows:,} rows over {len(REGIONS)} regions x {history_days()} days "
            f"({len(built.partitions):,} partitions) built in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        end = start + timedelta(days=1)
        snapshot = work / "history-snapshot"
        shutil.copytree(history.base, snapshot)

        def timed(make_lake: Any) -> tuple[float, Any]:
            times, result = [], None
            for attempt in range(REPEAT):
                lake = make_lake(attempt)
                write_day(lake, day, header, pool)
                began = time.perf_counter()
                result = lake.ingest(spark, start, end)
                times.append(time.perf_counter() - began)
            return statistics.median(times), result

        def like_history(folder: Path, published: bool) -> Any:
            """The history's landing files (shared, read-only but for the day's drop); with its published
            statistics and ledger, or (a full refresh) without."""
            folder.mkdir(parents=True)
            (folder / "raw").symlink_to(snapshot / "raw", target_is_directory=True)
            if published:
                for part in ("statistics", "ledger"):
                    shutil.copytree(snapshot / part, folder / part)
            return FolderLake(folder, modified=dict(history.modified), listed=dict(history.listed))

        def on_history(attempt: int) -> Any:
            return like_history(work / f"on-history-{attempt}", published=True)

        def empty(attempt: int) -> Any:
            return FolderLake(work / f"empty-{attempt}")

        def full_refresh(attempt: int) -> Any:
            # Everything taken again in one run on an empty lake: what a run cost before daily partitions.
            return like_history(work / f"full-{attempt}", published=False)

        empty_s, empty_result = timed(empty)
        history_s, history_result = timed(on_history)
        full_s, full_result = timed(full_refresh)
        load = os.getloadavg()[0]
        day_rows = sum(f.read for f in history_result.files)
        print(
            f"one day's drop: {day_rows:,} rows in {len(REGIONS)} files; median of {REPEAT}, warm session, "
            f"1-min load average {load:.2f}"
        )
        print(f"  {'case':<44} {'seconds':>8} {'rows read':>10} {'partitions written':>19}")
        for label, seconds, result in (
            ("increment on an empty lake", empty_s, empty_result),
            (f"increment on {rows:,} rows of history", history_s, history_result),
            (f"full refresh of {rows + day_rows:,} rows (before)", full_s, full_result),
        ):
            read = sum(f.read for f in result.files)
            print(f"  {label:<44} {seconds:>8.2f} {read:>10,} {len(result.partitions):>19,}")
        ratio = history_s / empty_s
        print(
            f"  ratio history / empty: {ratio:.2f}x (target <= {TARGET_RATIO:.1f}x: "
            f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}); "
            f"full refresh / increment: {full_s / history_s:.1f}x",
            flush=True,
        )
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
