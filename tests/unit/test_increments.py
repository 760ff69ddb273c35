"""Daily increments equal one full run: the real planner and Glue job, interval by interval, on the real
rsrishav files split into daily drops — as daily extracts, as cumulative files re-uploaded under one key,
with a drop a day late and with a corrected file re-uploaded — and the publish killed at every step.

Runs in one process over local folders (``local.increments.FolderLake``): the same plan files and
job code as on AWS, without the Glue executor's process start per run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.drops import split_file, split_records
from local.increments import FolderLake, glue_module

pytestmark = pytest.mark.spark

#: Four regions are enough for every quirk: FR (a 4-field cut record), IN (repeated rows), KR (trending
#: until 2020-08-19), US (the 32-item category file's region).
REGIONS = ("fr", "in", "kr", "us")
STATS = "youtube/raw_statistics/"


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def sources(data_dir: Path) -> dict[str, bytes]:
    folder = data_dir / "rsrishav_trending" / "raw_statistics"
    return {r: next((folder / f"region={r}").glob("*.csv")).read_bytes() for r in REGIONS}


def daily(data_dir: Path) -> dict[date, dict[str, bytes]]:
    """Drop date -> region -> that day's extract (the first four days alone, the rest together)."""
    out: dict[date, dict[str, bytes]] = {}
    for region, data in sources(data_dir).items():
        for day, part in split_file(data, single_days=4).items():
            out.setdefault(day, {})[region] = part
    return dict(sorted(out.items()))


def name(region: str) -> str:
    return f"{region.upper()}_youtube_trending_data.csv"


def ingest_days(lake: FolderLake, spark: Any, days: list[date]) -> list[Any]:
    return [lake.ingest(spark, midnight(d), midnight(d + timedelta(days=1))) for d in days]


def assert_counts_add_up(results: list[Any]) -> None:
    for result in results:
        for f in result.files:
            counts = f.counts()
            assert counts["read"] == counts["written"] + counts["duplicates"] + counts["rejected"], f.file.key


def test_daily_extracts_equal_one_full_run(spark: Any, data_dir: Path, tmp_path: Path) -> None:
    lake = FolderLake(tmp_path)
    drops = daily(data_dir)
    assert len(drops) == 5
    results = []
    for day, extracts in drops.items():
        for region, data in extracts.items():
            lake.put(
                f"{STATS}landing_date={day}/region={region}/{name(region)}",
                data,
                midnight(day) + timedelta(hours=30),
            )
        results += ingest_days(lake, spark, [day])
    assert_counts_add_up(results)
    # Day partitions: a day's run writes only its own day's partitions (the last drop holds the rest).
    assert sorted(results[0].partitions) == [f"region={r}/dt=2020-08-12" for r in REGIONS]
    assert all(r.merged == [] and r.rebuilt == [] for r in results)
    assert lake.rows(spark) == lake.full_run(spark, tmp_path / "full").rows(spark)


def test_cumulative_files_reuploaded_under_one_key_equal_one_full_run(
    spark: Any, data_dir: Path, tmp_path: Path
) -> None:
    lake = FolderLake(tmp_path)
    drops = daily(data_dir)
    cumulative: dict[str, bytes] = {}
    results = []
    for day, extracts in drops.items():
        for region, data in extracts.items():
            header, _, body = data.partition(b"\n")
            cumulative[region] = cumulative.get(region, header + b"\n") + body
            # The cumulative file keeps its key; S3 gives it a new ETag and LastModified each day.
            lake.put(
                f"{STATS}region={region}/{name(region)}",
                cumulative[region],
                midnight(day) + timedelta(hours=6),
            )
        results += ingest_days(lake, spark, [day])
    assert_counts_add_up(results)
    # From the second day on, each region's file changed: the partitions its old version wrote are rebuilt.
    assert results[1].rebuilt and set(results[1].rebuilt) <= {f"region={r}/dt=2020-08-12" for r in REGIONS}
    # The final cumulative files are the original files (their records in trending-date order).
    reference = lake.full_run(spark, tmp_path / "full")
    assert lake.rows(spark) == reference.rows(spark)
    original = FolderLake(tmp_path / "original")
    for region, data in sources(data_dir).items():
        original.put(f"{STATS}region={region}/{name(region)}", data, midnight(list(drops)[-1]))
    assert reference.rows(spark) == original.full_run(spark, tmp_path / "original-full").rows(spark)


def test_a_drop_a_day_late_and_a_corrected_file_equal_one_full_run(
    spark: Any, data_dir: Path, tmp_path: Path
) -> None:
    lake = FolderLake(tmp_path)
    drops = daily(data_dir)
    days = list(drops)
    late = days[1]
    for day in days:
        for region, data in drops[day].items():
            if day != late:
                lake.put(f"{STATS}landing_date={day}/region={region}/{name(region)}", data, midnight(day))
        if day == days[2]:  # the late drop lands while day 3 is being collected: day 3's run takes it too
            for region, data in drops[late].items():
                lake.put(f"{STATS}landing_date={late}/region={region}/{name(region)}", data, midnight(day))
        ingest_days(lake, spark, [day])
    before_correction = lake.rows(spark)
    assert before_correction == lake.full_run(spark, tmp_path / "full").rows(spark)

    # A corrected file: the US extract of day 1 re-uploaded without its first record and with other views.
    key = f"{STATS}landing_date={days[0]}/region=us/{name('us')}"
    header, records = split_records(drops[days[0]]["us"])
    rest = b"".join(r.data + r.end for r in records[1:])
    corrected = header + rest.replace(b'","0","', b'","1","', 1)
    assert corrected.count(b'","1","') == rest.count(b'","1","') + 1  # one value changed
    lake.put(key, corrected, midnight(days[-1]) + timedelta(days=2))
    (result,) = ingest_days(lake, spark, [days[-1] + timedelta(days=2)])
    assert [f.file.key for f in result.files] == [key] and result.rebuilt == ["region=us/dt=2020-08-12"]
    after = lake.rows(spark)
    assert after == lake.full_run(spark, tmp_path / "full-corrected").rows(spark)
    assert len(after) == len(before_correction) - 1


# ---- kill at every step of the publish -----------------------------------------------------------


class Killed(BaseException):
    """The job's process died (BaseException: no ``except Exception`` may swallow it, as with SIGKILL)."""


class KillingStore:
    """A store that checks the reader's view before every operation and dies at operation ``kill_at``.

    Once dead it stays dead: the job's ``finally`` cleanups cannot run either, as after a real kill.
    """

    def __init__(self, inner: Any, kill_at: int, check: Callable[[], None]) -> None:
        self.inner, self.kill_at, self.check = inner, kill_at, check
        self.calls = 0
        self.dead = False
        self.pending = ""

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self.inner, operation)

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                raise Killed(operation)
            self.pending = operation
            self.check()
            self.calls += 1
            if self.calls == self.kill_at:
                self.dead = True
                raise Killed(operation)
            return method(*args, **kwargs)

        return call


def published(lake: FolderLake) -> dict[str, bytes]:
    root = Path(lake.target)
    return {
        p.parent.relative_to(root).as_posix(): p.read_bytes()
        for p in root.glob("region=*/dt=*/data.snappy.parquet")
    }


#: Store operations that change what readers or later runs see (the others only read).
WRITES = ("copy", "delete", "delete_prefix", "write_text")


def test_a_reader_never_sees_a_gap_whenever_the_job_is_killed(
    spark: Any, data_dir: Path, tmp_path: Path
) -> None:
    """Day 1 is published; on day 2 the cumulative files are re-uploaded (their old partitions are rebuilt)
    with a new day. The job is killed before each of its writes in turn, and once while it stages: at
    every store operation every partition published before holds a whole Parquet object, and the next run,
    not killed, ends exactly where an unkilled run ends."""
    import shutil

    lake_io = glue_module("lake_io")
    drops = daily(data_dir)
    day1, day2 = list(drops)[:2]
    regions = ("fr", "us")
    base = FolderLake(tmp_path / "day1")
    for region in regions:
        base.put(f"{STATS}region={region}/{name(region)}", drops[day1][region], midnight(day1))
    base.ingest(spark, midnight(day1), midnight(day2))
    for region in regions:
        both = drops[day1][region] + drops[day2][region].partition(b"\n")[2]
        base.put(f"{STATS}region={region}/{name(region)}", both, midnight(day2))

    def copy_of(folder: str) -> FolderLake:
        shutil.copytree(base.base, tmp_path / folder)
        return dataclasses.replace(
            base, base=tmp_path / folder, modified=dict(base.modified), listed=dict(base.listed)
        )

    def day2_run(lake: FolderLake, store: Any = None) -> Any:
        return lake.ingest(spark, midnight(day2), midnight(day2 + timedelta(days=1)), store=store)

    unkilled = copy_of("unkilled")
    log: list[str] = []
    recorder = KillingStore(lake_io.LocalStore(), kill_at=0, check=lambda: None)
    recorder.check = lambda: log.append(recorder.pending)  # type: ignore[attr-defined]
    day2_run(unkilled, recorder)
    expected = unkilled.rows(spark)
    assert "copy" in log and "write_text" in log
    first_write = next(i for i, op in enumerate(log) if op in ("copy",))
    # Kill points: an operation while staging (before the first copy), then before every write.
    kill_points = [first_write] + [i + 1 for i, op in enumerate(log) if op in WRITES and i + 1 > first_write]

    for kill_at in kill_points:
        lake = copy_of(f"kill{kill_at}")
        before = published(lake)

        def reader_view(
            lake: FolderLake = lake, before: dict[str, bytes] = before, at: int = kill_at
        ) -> None:
            now = published(lake)
            assert set(before) <= set(now), f"kill at {at}: partitions gone {set(before) - set(now)}"
            for partition, data in now.items():  # every object a reader lists is a whole Parquet file
                assert data[:4] == b"PAR1" and data[-4:] == b"PAR1", (at, partition)

        with pytest.raises(Killed):
            day2_run(lake, KillingStore(lake_io.LocalStore(), kill_at, reader_view))
        reader_view()
        result = day2_run(lake)  # the next attempt cleans up what the killed one left and finishes
        assert lake.rows(spark) == expected, f"kill at {kill_at} ({log[kill_at - 1]})"
        assert not (Path(lake.target) / "_clean_statistics_staging").exists()
        assert all(f.verdict == "processed" for f in result.files)


def test_the_job_runs_with_a_store_it_is_given(spark: Any, tmp_path: Path) -> None:
    """The kill test's injection point: every object operation of a run goes through ``store``."""
    lake_io = glue_module("lake_io")
    lake = FolderLake(tmp_path)
    lake.put(f"{STATS}region=us/US.csv", b"video_id,trending_date\n", midnight(date(2020, 8, 12)))
    counting = KillingStore(lake_io.LocalStore(), kill_at=0, check=lambda: None)
    result = lake.ingest(spark, midnight(date(2020, 8, 12)), midnight(date(2020, 8, 13)), store=counting)
    assert counting.calls > 0 and dataclasses.asdict(result.files[0].file)["key"].endswith("US.csv")
