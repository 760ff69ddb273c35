"""The planner and youtube_extract's pages: a region-day is taken only once its manifest exists."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from youtube_etl import landing
from youtube_etl.landing import LandingObject
from youtube_lake import extract

STATS = "youtube/raw_statistics/"
REF = "youtube/raw_statistics_reference_data/"
KINDS = landing.landing_kinds(STATS, REF)
DAY = date(2017, 11, 14)
D = datetime(2017, 11, 14, tzinfo=UTC)
NOW = datetime(2017, 11, 15, 0, 20, tzinfo=UTC)
A = "20171115T001503Z"
B = "20171115T031503Z"


def obj(key: str, etag: str = "e1") -> LandingObject:
    return LandingObject(key=key, etag=f'"{etag}"', size=10, last_modified=NOW)


def page(n: int, region: str = "us", attempt: str = A) -> LandingObject:
    return obj(extract.page_key(STATS, DAY, region, attempt, n))


def manifest(region: str = "us", attempt: str = A) -> LandingObject:
    return obj(extract.manifest_key(STATS, DAY, region, attempt))


def plan(objects: list[LandingObject], ledger: list[LandingObject] = ()) -> landing.Plan:  # type: ignore[assignment]
    names = [f"youtube/landing_ledger/{o.ledger_name}" for o in ledger]
    return landing.plan_increment(objects, names, D, D + timedelta(days=1), KINDS)


def keys(items: list[landing.PlannedObject] | list[landing.Classified]) -> list[str]:
    return [getattr(i, "item", i).obj.key for i in items]


def test_a_published_region_day_is_taken_as_statistics_in_page_order() -> None:
    objects = [page(2), manifest(), page(1), obj(extract.category_key(REF, DAY, "us"))]
    p = plan(objects)
    assert keys(p.statistics) == [page(1).key, page(2).key]
    assert {i.region for i in (s.item for s in p.statistics)} == {"us"}
    assert keys(p.reference) == [extract.category_key(REF, DAY, "us")]
    assert p.later == []


def test_pages_without_a_manifest_are_neither_taken_nor_given_a_verdict() -> None:
    p = plan([page(1), page(2), page(1, region="gb"), manifest(region="gb")])
    assert keys(p.statistics) == [page(1, region="gb").key]
    assert keys(p.later) == [page(1).key, page(2).key]
    assert page(1).key not in keys(p.ignored)
    # The interval's drop still counts them: the sensor saw something land.
    assert page(1).key in keys(p.drop)


def test_a_manifest_is_ignored_with_a_reason_naming_its_region_day() -> None:
    p = plan([page(1), manifest()])
    (ignored,) = p.ignored
    assert ignored.obj.key == manifest().key
    assert ignored.ignored is not None
    assert ignored.ignored.startswith("extract_manifest:")
    assert "region=us landing_date=2017-11-14" in ignored.ignored


def test_pages_of_an_attempt_the_manifest_does_not_publish_are_ignored_as_superseded() -> None:
    # Attempt A failed after page 3 (no manifest); attempt B fetched a 2-page chart and published it.
    objects = [page(1), page(2), page(3), page(1, attempt=B), page(2, attempt=B), manifest(attempt=B)]
    p = plan(objects)
    assert keys(p.statistics) == [page(1, attempt=B).key, page(2, attempt=B).key]
    superseded = {i.obj.key: i.ignored for i in p.ignored if i.obj.key != manifest(attempt=B).key}
    assert sorted(superseded) == [page(n).key for n in (1, 2, 3)]
    assert all(r is not None and r.startswith("superseded_attempt:") for r in superseded.values())


def test_pages_with_a_verdict_are_not_taken_again() -> None:
    objects = [page(1), manifest()]
    assert plan(objects, ledger=[page(1), manifest()]).statistics == []


def test_other_json_in_the_statistics_prefix_keeps_its_wrong_suffix_verdict() -> None:
    stray = obj(f"{STATS}landing_date=2017-11-14/region=us/notes.json")
    (ignored,) = plan([stray]).ignored
    assert ignored.ignored is not None and ignored.ignored.startswith("wrong_suffix:")


def test_csv_drops_are_unchanged_beside_pages() -> None:
    csv = obj(f"{STATS}landing_date=2017-11-14/region=us/USvideos.csv")
    p = plan([csv, page(1)])
    assert keys(p.statistics) == [csv.key]
    assert keys(p.later) == [page(1).key]


def category(region: str = "US") -> LandingObject:
    return obj(extract.category_key(REF, DAY, region.lower()))


def drop(objects: list[LandingObject], with_extract: bool = True) -> list[str]:
    return landing.drop_keys(
        objects, (STATS, REF), D, D + timedelta(days=1), (STATS, REF) if with_extract else None
    )


def test_wait_for_drop_does_not_count_a_region_day_the_extract_is_still_publishing() -> None:
    fetching = [page(1), page(2), category("US")]
    assert drop(fetching) == []
    # Without the extract rule the half-published chart would start the ingest.
    assert len(drop(fetching, with_extract=False)) == 3
    published = [*fetching, manifest()]
    assert set(drop(published)) == {o.key for o in published}


def test_one_region_still_fetching_does_not_hide_another_regions_published_day() -> None:
    objects = [page(1, "us"), category("US"), page(1, "gb"), category("GB"), manifest("gb")]
    assert set(drop(objects)) == {page(1, "gb").key, category("GB").key, manifest("gb").key}


def test_a_dropped_file_counts_as_before() -> None:
    csv = obj(f"{STATS}landing_date=2017-11-14/region=us/US.csv")
    later = obj(f"{STATS}landing_date=2017-11-15/region=us/US.csv")
    assert drop([csv, later]) == [csv.key]
