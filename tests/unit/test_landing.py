"""The planner's rules (docs/daily-pipeline.md): arrival, arrival order, what a run takes, rebuilds.

Arrival itself is the lake's contract (``youtube_lake.landing``), tested here on landing keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from youtube_etl import landing
from youtube_etl.landing import LandingObject, PlanError
from youtube_lake import landing as lake_landing
from youtube_lake.ledger import document_name
from youtube_lake.partitions import partition_regions
from youtube_lake.plan import IngestPlan

STATS = "youtube/raw_statistics/"
REF = "youtube/raw_statistics_reference_data/"
KINDS = landing.landing_kinds(STATS, REF)
D = datetime(2017, 11, 14, tzinfo=UTC)
DAY = timedelta(days=1)
NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)


def obj(key: str, etag: str = "e1", modified: datetime = NOW, size: int = 10) -> LandingObject:
    return LandingObject(key=key, etag=f'"{etag}"', size=size, last_modified=modified)


def plan(
    objects: list[LandingObject],
    ledger: list[LandingObject] = (),  # type: ignore[assignment]
    start: datetime = D,
    owned: tuple[str, ...] = (),
) -> landing.Plan:
    names = [f"youtube/landing_ledger/{o.ledger_name}" for o in ledger]
    return landing.plan_increment(objects, names, start, start + DAY, KINDS, owned)


def keys(items: list[landing.PlannedObject] | list[landing.Classified]) -> list[str]:
    return [getattr(i, "item", i).obj.key for i in items]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param(f"{STATS}landing_date=2017-11-14/region=us/US.csv", D, id="dated-statistics"),
        pytest.param(f"{STATS}region=us/landing_date=2017-11-14/US.csv", D, id="dated-inner-folder"),
        pytest.param(f"{REF}landing_date=2017-11-14/US_category_id.json", D, id="dated-reference"),
        pytest.param(f"{STATS}region=us/US.csv", NOW, id="undated-last-modified"),
        pytest.param(f"{STATS}region=us/landing_date=2017-11-14.csv", NOW, id="date-in-file-name-only"),
    ],
)
def test_arrival_is_the_landing_date_else_last_modified(key: str, expected: datetime) -> None:
    prefix = REF if key.startswith(REF) else STATS
    assert lake_landing.arrival(key, NOW, prefix) == expected


def test_a_landing_date_above_the_landing_prefix_does_not_count() -> None:
    key = "landing_date=2017-11-14/youtube/raw_statistics/region=us/US.csv"
    assert lake_landing.landing_date(key, STATS) is None


@pytest.mark.parametrize(
    "folder",
    [
        pytest.param("landing_date=2017-13-45", id="no-such-date"),
        pytest.param("landing_date=20171114", id="no-dashes"),
        pytest.param("landing_date=", id="empty"),
    ],
)
def test_a_malformed_landing_date_is_ignored_with_the_reason(folder: str) -> None:
    bad = obj(f"{STATS}{folder}/region=us/US.csv", modified=D + timedelta(hours=3))
    with pytest.raises(lake_landing.LandingDateError, match=folder):
        lake_landing.landing_date(bad.key, STATS)
    result = plan([bad])
    assert keys(result.ignored) == [bad.key]
    assert (result.ignored[0].ignored or "").startswith(f"bad_landing_date: {bad.key}: '{folder}'")
    assert result.ignored[0].arrival == bad.last_modified


def test_last_modified_without_time_zone_is_an_error() -> None:
    with pytest.raises(PlanError, match="no time zone"):
        LandingObject(key="k", etag="e", size=1, last_modified=datetime(2017, 11, 14))


def test_etag_quotes_are_dropped_and_name_the_ledger_document() -> None:
    o = obj(f"{STATS}region=us/US.csv", etag="abc-2")
    assert o.etag == "abc-2"
    assert o.ledger_name == document_name(o.key, "abc-2")


def test_run_takes_earlier_unprocessed_objects_and_leaves_later_ones() -> None:
    own = obj(f"{STATS}landing_date=2017-11-14/region=us/US.csv")
    late = obj(f"{STATS}landing_date=2017-11-10/region=us/US.csv")
    later = obj(f"{STATS}landing_date=2017-11-15/region=us/US.csv")
    undated_later = obj(f"{STATS}region=gb/GB.csv", modified=D + DAY)  # exactly at end: next interval
    undated_inside = obj(f"{STATS}region=ca/CA.csv", modified=D + DAY - timedelta(seconds=1))
    result = plan([own, late, later, undated_later, undated_inside])
    assert keys(result.statistics) == [late.key, own.key, undated_inside.key]
    assert keys(result.later) == [later.key, undated_later.key]
    assert keys(result.drop) == [own.key, undated_inside.key]


def test_an_object_with_a_verdict_is_not_taken_but_a_changed_one_is() -> None:
    done = obj(f"{STATS}landing_date=2017-11-14/region=us/US.csv", etag="v1")
    changed_before = obj(f"{STATS}region=gb/GB.csv", etag="v1", modified=D)
    changed_now = obj(f"{STATS}region=gb/GB.csv", etag="v2", modified=D + timedelta(hours=1))
    result = plan([done, changed_now], ledger=[done, changed_before])
    assert keys(result.statistics) == [changed_now.key]
    # The interval's drop still counts processed objects: re-running an interval never waits.
    assert keys(result.drop) == [done.key, changed_now.key]


def test_arrival_order_ties_are_broken_by_key() -> None:
    b = obj(f"{STATS}landing_date=2017-11-14/region=us/b.csv")
    a = obj(f"{STATS}landing_date=2017-11-14/region=us/a.csv")
    earlier = obj(f"{STATS}region=us/z.csv", modified=D - timedelta(days=3))
    result = plan([b, a, earlier])
    assert keys(result.statistics) == [earlier.key, a.key, b.key]


@pytest.mark.parametrize(
    ("key", "code"),
    [
        pytest.param(f"{STATS}region=us/US.txt", "wrong_suffix", id="txt-in-statistics"),
        pytest.param(f"{STATS}region=us/US.csv.zip", "wrong_suffix", id="zip-in-statistics"),
        pytest.param(f"{STATS}region=us/US.JSON", "wrong_suffix", id="json-in-statistics"),
        pytest.param(f"{STATS}US.csv", "no_region_folder", id="no-region-folder"),
        pytest.param(f"{STATS}region=usa/US.csv", "no_region_folder", id="three-letter-region"),
        pytest.param(f"{REF}US_category_id.csv", "wrong_suffix", id="csv-in-reference"),
    ],
)
def test_objects_the_pipeline_does_not_read_are_ignored_with_a_reason(key: str, code: str) -> None:
    result = plan([obj(key, modified=D)])
    assert keys(result.ignored) == [key] and not result.statistics and not result.reference
    assert (result.ignored[0].ignored or "").startswith(f"{code}: ")


def test_folder_markers_are_not_objects() -> None:
    result = plan([obj(f"{STATS}region=us/", modified=D)])
    assert result.drop == [] and result.ignored == []


OUTSIDE = (
    "outside_landing_prefixes: not below the landing prefixes "
    "(youtube/raw_statistics/, youtube/raw_statistics_reference_data/)"
)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("youtube/raw_statistic/landing_date=2017-11-14/region=us/US.csv", id="typoed-folder"),
        pytest.param("USvideos.csv", id="bucket-root"),
        pytest.param("youtube/US_category_id.json", id="parent-folder"),
        pytest.param("Youtube/raw_statistics/region=us/US.csv", id="prefix-in-other-case"),
        pytest.param("youtube/raw_statisticsUS.csv", id="prefix-without-its-slash"),
        pytest.param("landing_date=2017-11-14/youtube/raw_statistics/region=us/US.csv", id="dated-above"),
        pytest.param("quarantine-old/US.csv", id="look-alike-of-an-owned-prefix"),
    ],
)
def test_an_object_outside_the_landing_prefixes_is_ignored_with_a_reason_naming_them(key: str) -> None:
    stray = obj(key, modified=NOW)  # uploaded long after the interval: no interval owns it
    result = plan([stray], owned=OWNED)
    (ignored,) = result.ignored
    assert ignored.obj.key == key and ignored.ignored == OUTSIDE
    assert (ignored.kind, ignored.region, ignored.arrival, ignored.landing) == ("other", None, NOW, False)
    # Not a drop of any interval (the sensor waits for landing objects only), not left for later.
    assert result.drop == [] and result.later == [] and not result.statistics and not result.reference
    # Reported once per version: a verdict for this ETag silences it, a new upload is reported again.
    assert plan([stray], ledger=[stray], owned=OWNED).ignored == []
    assert keys(plan([obj(key, etag="e2")], ledger=[stray], owned=OWNED).ignored) == [key]


#: The prefixes the pipeline writes into the raw bucket itself (settings.raw_owned_prefixes).
OWNED = ("quarantine/",)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(
            "quarantine/reference_data/date=2026-11-29/req-1/youtube/raw_statistics_reference_data/"
            "ZZ_category_id.json",
            id="lambda-quarantine-copy",
        ),
        pytest.param(
            "quarantine/reference_data/date=2026-11-29/req-1/youtube/raw_statistics_reference_data/"
            "ZZ_category_id.json.error.json",
            id="lambda-error-report",
        ),
        pytest.param("quarantine/statistics/run_id=manual_x/part-00000.json", id="glue-rejected-rows"),
        pytest.param("quarantine/statistics/run_id=manual_x/_SUCCESS", id="spark-success-marker"),
        pytest.param("quarantine_$folder$", id="hadoop-folder-marker-at-the-root"),
        pytest.param("quarantine/statistics_$folder$", id="hadoop-folder-marker"),
        pytest.param("youtube/raw_statistic/", id="console-folder-marker"),
    ],
)
def test_what_the_pipeline_writes_into_the_raw_bucket_gets_no_verdict(key: str) -> None:
    result = plan([obj(key, modified=D, size=0 if key.endswith("$") else 10)], owned=OWNED)
    assert (result.ignored, result.drop, result.later, result.statistics, result.reference) == (
        [],
        [],
        [],
        [],
        [],
    )


def test_a_hadoop_folder_marker_with_bytes_in_it_is_a_drop_like_any_other() -> None:
    result = plan([obj("USvideos_$folder$", size=3)], owned=OWNED)
    assert keys(result.ignored) == ["USvideos_$folder$"] and result.ignored[0].ignored == OUTSIDE


def test_stray_objects_do_not_disturb_the_landing_objects_of_the_same_listing() -> None:
    good = obj(f"{STATS}landing_date=2017-11-14/region=us/US.csv")
    stray = obj("youtube/raw_statistic/landing_date=2017-11-14/region=us/US.csv")
    copy = obj("quarantine/statistics/run_id=x/part-00000.json")
    result = plan([stray, good, copy], owned=OWNED)
    assert keys(result.statistics) == [good.key] and keys(result.drop) == [good.key]
    assert keys(result.ignored) == [stray.key]


def test_a_rebuild_plan_lists_stray_objects_beside_the_landing_objects() -> None:
    """plan_from_listings classifies every listed object again for rebuilds: strays must not break it."""
    v1 = obj(f"{STATS}region=us/US.csv", etag="v1", modified=D - DAY)
    v2 = obj(f"{STATS}region=us/US.csv", etag="v2", modified=D + timedelta(hours=2))
    daily = obj(f"{STATS}landing_date=2017-11-12/region=us/day.csv")
    stray = obj("youtube/raw_statistic/region=us/US.csv", modified=D)
    p12 = "region=us/dt=2017-11-12"
    docs = {f"youtube/landing_ledger/{o.ledger_name}": doc(o, [p12]) for o in (v1, daily)}
    result = landing.plan_from_listings(
        [v2, daily, stray], sorted(docs), D, D + DAY, KINDS, lambda names: [docs[n] for n in names], OWNED
    )
    assert keys(result.statistics) == [v2.key] and result.statistics[0].previous_partitions == (p12,)
    assert [(item.obj.key, parts) for item, parts in result.rebuild_sources] == [(daily.key, (p12,))]
    assert keys(result.ignored) == [stray.key]


@pytest.mark.parametrize(
    ("name", "taken"),
    [
        pytest.param("US_category_id.json", True, id="json"),
        pytest.param("US_category_id.json.gz", True, id="json-gz"),
        pytest.param("US_category_id.JSON", False, id="upper-case-json"),
        pytest.param("US_category_id.json.GZ", False, id="upper-case-gz"),
        pytest.param("US_category_id.json.bak", False, id="json-bak"),
        pytest.param("US_category_id.txt", False, id="txt"),
    ],
)
def test_the_planner_takes_exactly_the_category_files_the_s3_notification_sends_to_the_lambda(
    name: str, taken: bool
) -> None:
    from youtube_etl.settings import Settings

    filters = Settings().reference_event_filters
    key = f"{REF}landing_date=2017-11-14/{name}"
    # S3's filter rules: the key starts with the prefix and ends with the suffix, case-sensitively.
    assert any(key.startswith(prefix) and key.endswith(suffix) for prefix, suffix in filters) is taken
    result = plan([obj(key)])
    assert keys(result.reference) == ([key] if taken else [])
    if not taken:
        assert (result.ignored[0].ignored or "").startswith("wrong_suffix: ")


def test_statistics_and_reference_are_split_with_regions() -> None:
    csv = obj(f"{STATS}landing_date=2017-11-14/region=US/USvideos.CSV")
    csv_gz = obj(f"{STATS}landing_date=2017-11-14/region=us/USvideos.csv.gz")  # Spark inflates it
    js = obj(f"{REF}landing_date=2017-11-14/US_category_id.json")
    gz = obj(f"{REF}landing_date=2017-11-14/CA_category_id.json.gz")  # the Lambda inflates it (issue 16)
    result = plan([js, gz, csv, csv_gz])
    assert keys(result.statistics) == [csv.key, csv_gz.key] and keys(result.reference) == [gz.key, js.key]
    assert result.statistics[0].item.region == "us"


def test_an_empty_interval_is_an_error() -> None:
    with pytest.raises(PlanError, match="empty data interval"):
        landing.plan_increment([], [], D, D, KINDS)


def test_plan_json_carries_what_the_glue_job_needs() -> None:
    csv = obj(f"{STATS}landing_date=2017-11-14/region=us/US.csv", etag="abc")
    result = plan([csv]).with_versions({csv.key: "v-1"})
    data = result.ingest_plan("raw-bucket", "manual__x").to_json()
    (entry,) = data["statistics"]
    assert entry == {
        "key": csv.key,
        "uri": f"s3://raw-bucket/{csv.key}",
        "etag": "abc",
        "version_id": "v-1",
        "size": 10,
        "last_modified": "2026-11-29T12:30:00Z",
        "arrival": "2017-11-14T00:00:00Z",
        "kind": "statistics",
        "region": "us",
        "previous_partitions": [],
    }
    assert data["interval_start"] == D.isoformat() and data["statistics"] and data["run_id"] == "manual__x"
    # What clean_statistics and record_verdicts read back.
    (read,) = IngestPlan.from_json(json.dumps(data)).statistics
    assert (read.key, read.arrival, read.version_id, read.region) == (csv.key, D, "v-1", "us")


# ---- rebuilds of changed objects ----------------------------------------------------------------


def doc(o: LandingObject, partitions: list[str], verdict: str = "processed") -> dict[str, object]:
    return {"key": o.key, "etag": o.etag, "verdict": verdict, "partitions": partitions}


def rebuilt(
    current: list[LandingObject], ledger: list[tuple[LandingObject, dict[str, object]]]
) -> landing.Plan:
    names = [f"youtube/landing_ledger/{o.ledger_name}" for o, _ in ledger]
    docs = {f"youtube/landing_ledger/{o.ledger_name}": d for o, d in ledger}
    result = landing.plan_increment(current, names, D, D + DAY, KINDS)
    previous = {k: [docs[n] for n in group] for k, group in landing.previous_documents(result, names).items()}
    regions = partition_regions(p for ds in previous.values() for d in ds for p in d["partitions"])  # type: ignore[attr-defined]
    contributors = [docs[n] for n in landing.contributor_documents(result, current, names, regions, KINDS)]
    return landing.add_rebuilds(result, previous, contributors, current, KINDS)


def test_a_changed_file_rebuilds_the_partitions_its_old_version_wrote_from_their_other_writers() -> None:
    cumulative_v1 = obj(f"{STATS}region=us/US.csv", etag="v1", modified=D - DAY)
    cumulative_v2 = obj(f"{STATS}region=us/US.csv", etag="v2", modified=D + timedelta(hours=2))
    daily = obj(f"{STATS}landing_date=2017-11-12/region=us/day.csv")
    other_partition = obj(f"{STATS}landing_date=2017-11-11/region=us/old.csv")
    other_region = obj(f"{STATS}landing_date=2017-11-12/region=gb/day.csv")
    p12, p13 = "region=us/dt=2017-11-12", "region=us/dt=2017-11-13"
    result = rebuilt(
        [cumulative_v2, daily, other_partition, other_region],
        [
            (cumulative_v1, doc(cumulative_v1, [p12, p13])),
            (daily, doc(daily, [p12])),
            (other_partition, doc(other_partition, ["region=us/dt=2017-11-11"])),
            (other_region, doc(other_region, ["region=gb/dt=2017-11-12"])),
        ],
    )
    (planned,) = result.statistics
    assert planned.item.obj.etag == "v2" and planned.previous_partitions == (p12, p13)
    assert [(item.obj.key, parts) for item, parts in result.rebuild_sources] == [(daily.key, (p12,))]
    assert result.changed_keys == [cumulative_v2.key]


def test_a_quarantined_contributor_is_not_read_again() -> None:
    v1 = obj(f"{STATS}region=us/US.csv", etag="v1", modified=D - DAY)
    v2 = obj(f"{STATS}region=us/US.csv", etag="v2", modified=D + timedelta(hours=2))
    bad = obj(f"{STATS}landing_date=2017-11-12/region=us/bad.csv")
    p12 = "region=us/dt=2017-11-12"
    result = rebuilt([v2, bad], [(v1, doc(v1, [p12])), (bad, doc(bad, [], verdict="quarantined"))])
    assert result.rebuild_sources == []


def test_a_contributor_changed_after_the_interval_is_taken_now_and_widens_the_rebuild() -> None:
    v1 = obj(f"{STATS}region=us/US.csv", etag="v1", modified=D - DAY)
    v2 = obj(f"{STATS}region=us/US.csv", etag="v2", modified=D + timedelta(hours=2))
    other_v1 = obj(f"{STATS}region=us/other.csv", etag="o1", modified=D - DAY)
    other_v2 = obj(f"{STATS}region=us/other.csv", etag="o2", modified=D + 3 * DAY)  # after this interval
    third = obj(f"{STATS}landing_date=2017-11-09/region=us/third.csv")
    p12, p09 = "region=us/dt=2017-11-12", "region=us/dt=2017-11-09"
    result = rebuilt(
        [v2, other_v2, third],
        [(v1, doc(v1, [p12])), (other_v1, doc(other_v1, [p12, p09])), (third, doc(third, [p09]))],
    )
    assert keys(result.statistics) == [v2.key, other_v2.key]  # arrival order
    by_key = {p.item.obj.key: p.previous_partitions for p in result.statistics}
    assert by_key[other_v2.key] == (p09, p12)
    assert [(item.obj.key, parts) for item, parts in result.rebuild_sources] == [(third.key, (p09,))]


def test_a_new_file_rebuilds_nothing() -> None:
    new = obj(f"{STATS}landing_date=2017-11-14/region=us/US.csv")
    result = rebuilt([new], [])
    assert result.statistics[0].previous_partitions == () and result.rebuild_sources == []


def test_a_run_without_interval_covers_the_last_whole_day_before_its_trigger() -> None:
    assert landing.run_interval(D, D + DAY, None) == (D, D + DAY)
    assert landing.run_interval(None, None, D + DAY + timedelta(hours=13)) == (D, D + DAY)
    assert landing.run_interval(None, None, D + DAY) == (D, D + DAY)
    with pytest.raises(PlanError, match="empty data interval"):
        landing.run_interval(D, D, None)
