"""clean_statistics on the YouTube Data API's response pages (the ``youtube_api`` format).

The pages are the local stand-in's, fetched over HTTP (it builds them from the rsrishav CSVs); expected values
come from those CSV rows, read with the ``csv`` module, never from the job's output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.api_pages import day_rows, fetch_chart, land, write_csv
from tests.glue_plans import entry
from tests.unit.test_glue_clean_statistics import Lake, formats, inspection, reading, rules
from youtube_lake.columns import STATISTICS

pytestmark = pytest.mark.spark

DAY = dt.date(2020, 8, 12)
LANDED = dt.datetime(2020, 8, 12, tzinfo=dt.UTC)
RSRISHAV = "rsrishav_trending"
LAYOUT = formats.YOUTUBE_API.page


@pytest.fixture(scope="module")
def de_chart(data_dir: Path) -> list[bytes]:
    """DE's chart of 2020-08-12: 200 videos in 4 pages, 2 with comments disabled, 1 with ratings hidden."""
    return fetch_chart(data_dir / RSRISHAV, "de", DAY)


def typed_rows(spark: Any, paths: list[Path], day: dt.date) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The files through the job's inspect -> read -> classify -> typed functions: typed rows by video_id,
    and the reject reasons."""
    from pyspark.sql import functions as F

    sources = inspection.inspect_files(spark, [(str(p), p.stat().st_size) for p in paths])
    sources = [dataclasses.replace(s, day=day) for s in sources]
    raw = reading.read_sources(spark, sources)
    keyed = raw.withColumn(rules.FILE, F.lit(0)).withColumn("dt", F.lit(day.isoformat()))
    classified = rules.classify(keyed).cache()
    rejected = [r["reject_reason"] for r in classified.where("reject_reason is not null").collect()]
    good = rules.to_typed(classified.where("reject_reason is null"), [LANDED])
    return {r["video_id"]: r.asDict() for r in good.collect()}, rejected


def test_api_pages_and_csv_give_the_same_typed_rows(
    spark: Any, data_dir: Path, tmp_path: Path, de_chart: list[bytes]
) -> None:
    header, chart = day_rows(
        data_dir / RSRISHAV / "raw_statistics/region=de/DE_youtube_trending_data.csv", DAY
    )
    pages = land(tmp_path / "raw", "de", DAY, de_chart)
    csv_path = write_csv(tmp_path / "csv/region=de/DE.csv", header, chart)
    assert [len(json.loads(p.read_bytes())["items"]) for p in pages] == [50, 50, 50, 50]

    api, api_rejected = typed_rows(spark, pages, DAY)
    csv_rows, csv_rejected = typed_rows(spark, [csv_path], DAY)

    assert api_rejected == [] and csv_rejected == []
    position = {r[0]: i for i, r in enumerate(chart, 1)}
    assert set(api) == set(csv_rows) == set(position) and len(api) == 200
    at = {name: header.index(name) for name in ("likes", "dislikes", "comment_count")}
    same = [
        c for c in STATISTICS if c not in ("source_file", "chart_rank", "likes", "dislikes", "comment_count")
    ]
    for video_id, record in ((r[0], r) for r in chart):
        a, c = api[video_id], csv_rows[video_id]
        assert {k: a[k] for k in same} == {k: c[k] for k in same}, video_id
        # The documented differences: what the API does not return is null, never 0.
        assert (a["chart_rank"], c["chart_rank"]) == (position[video_id], None)
        assert a["dislikes"] is None and c["dislikes"] == int(record[at["dislikes"]])
        if c["ratings_disabled"]:
            assert (a["likes"], c["likes"]) == (None, 0)
        else:
            assert a["likes"] == c["likes"] == int(record[at["likes"]])
        if c["comments_disabled"]:
            assert (a["comment_count"], c["comment_count"]) == (None, 0)
        else:
            assert a["comment_count"] == c["comment_count"] == int(record[at["comment_count"]])
    assert sum(r["comments_disabled"] for r in api.values()) == 2
    assert sum(r["ratings_disabled"] for r in api.values()) == 1
    assert sum(r["tags"] == [] for r in api.values()) == sum(
        r[header.index("tags")] == "[None]" for r in chart
    )


# ---- pages that are no pages, and bad items -----------------------------------------------------------


def _item(video_id: str, **statistics: Any) -> dict[str, Any]:
    counts = {"viewCount": "100", "likeCount": "7", "commentCount": "3", **statistics}
    return {
        "kind": "youtube#video",
        "id": video_id,
        "snippet": {
            "publishedAt": "2020-08-11T19:20:14Z",
            "channelId": "UCvtRTOMP2TqYqu51xNrqAzg",
            "title": f"title {video_id}",
            "description": "a\r\nb",
            "thumbnails": {"default": {"url": f"https://i.ytimg.com/vi/{video_id}/default.jpg"}},
            "channelTitle": "C",
            "categoryId": "22",
        },
        "statistics": {k: v for k, v in counts.items() if v is not None},
    }


def _page(*items: Any, kind: str = "youtube#videoListResponse") -> bytes:
    return json.dumps({"kind": kind, "etag": "e", "items": list(items)}).encode()


GOOD_PAGE = _page(
    _item("aaaaaaaaaa1"),
    _item("aaaaaaaaaa2", viewCount="12x"),
    _item("aaaaaaaaaa3", likeCount=None),
    _item("aaaaaaaaaa4", likeCount="-5"),
    _item("aaaaaaaaaa5", commentCount=None),
    _item("aaaaaaaaaa6", viewCount=None),
)
NOT_PAGES = {
    "html": (b"<!DOCTYPE html>\n<html><title>Error 502</title>", "not_api_page: not JSON ("),
    "null": (b"null", "not_api_page: the body is JSON null, not an object"),
    "no-items": (
        b'{"kind": "youtube#videoListResponse", "etag": "e"}',
        "not_api_page: no 'items' list (absent)",
    ),
    "items-not-a-list": (
        b'{"kind": "youtube#videoListResponse", "items": {}}',
        "not_api_page: no 'items' list (dict)",
    ),
    "other-kind": (
        _page(kind="youtube#searchListResponse"),
        "not_api_page: kind 'youtube#searchListResponse', not 'youtube#videoListResponse'",
    ),
    "error-body": (
        b'{"error": {"code": 403, "message": "quota", "errors": []}}',
        "not_api_page: an API error response (403 'quota')",
    ),
    "item-without-statistics": (
        _page(_item("bbbbbbbbbb1"), {"id": "bbbbbbbbbb2", "snippet": {}}),
        "not_api_page: item 2 of 2 has no 'statistics'",
    ),
    "item-without-id": (_page({"snippet": {}, "statistics": {}}), "not_api_page: item 1 of 1 has no 'id'"),
}


def test_a_body_that_is_no_page_is_quarantined_whole_and_a_bad_item_only_rejects_its_row(
    spark: Any, tmp_path: Path
) -> None:
    lake = Lake(spark, tmp_path / "lake")
    paths = {"good": land(tmp_path / "raw", "us", DAY, [GOOD_PAGE], "20200812T000000Z")[0]}
    for number, (name, (body, _)) in enumerate(NOT_PAGES.items(), 1):
        paths[name] = land(tmp_path / "raw", "us", DAY, [body], f"20200812T0000{number:02d}Z")[0]
    result = lake.run([entry(p, LANDED) for p in paths.values()], reject_threshold=0.5)

    verdicts = {f.file.uri: (f.verdict, f.reason or "") for f in result.files}
    for name, (_, reason) in NOT_PAGES.items():
        verdict, why = verdicts[str(paths[name])]
        assert verdict == "quarantined" and why.startswith(reason), (name, why)
    assert verdicts[str(paths["html"])][1].endswith(
        "first bytes: '<!DOCTYPE html>\\n<html><title>Error 502</title>'"
    )
    assert verdicts[str(paths["good"])] == ("processed", "")
    quarantined = lake.spark.read.json(lake.quarantine + "run_id=r/").collect()
    assert sorted((r["video_id"], r["reject_reason"]) for r in quarantined) == [
        ("aaaaaaaaaa2", "non-numeric views"),
        ("aaaaaaaaaa4", "negative likes"),
        ("aaaaaaaaaa6", "non-numeric views"),
    ]
    rows = {r["video_id"]: r for r in lake.rows().collect()}
    assert {v: (r["chart_rank"], r["likes"], r["comment_count"]) for v, r in rows.items()} == {
        "aaaaaaaaaa1": (1, 7, 3),
        "aaaaaaaaaa3": (3, None, 3),
        "aaaaaaaaaa5": (5, 7, None),
    }
    assert (rows["aaaaaaaaaa3"]["ratings_disabled"], rows["aaaaaaaaaa3"]["comments_disabled"]) == (
        True,
        False,
    )
    assert (rows["aaaaaaaaaa5"]["ratings_disabled"], rows["aaaaaaaaaa5"]["comments_disabled"]) == (
        False,
        True,
    )
    first = rows["aaaaaaaaaa1"]
    assert (first["trending_date"], first["dislikes"], first["video_error_or_removed"]) == (DAY, None, None)
    assert (first["description"], first["tags"], first["category_id"]) == ("a\nb", [], 22)


# ---- chart ranks: the items of the fetch's earlier pages -------------------------------------------------


def test_ranks_count_the_earlier_pages_of_the_fetch_even_when_the_run_does_not_hold_them(
    spark: Any, tmp_path: Path
) -> None:
    items = [_item(f"cccccccc{i:03d}") for i in range(120)]
    bodies = [_page(*items[:40]), _page(*items[40:90]), _page(*items[90:])]
    pages = land(tmp_path / "raw", "us", DAY, bodies)
    other = land(tmp_path / "raw", "us", DAY, [_page(*items[:3])], "20200812T235959Z")
    # Page 1 is not in the run: its 40 items are counted from the bucket; the other fetch ranks on its own.
    run = [pages[2], pages[1], other[0]]
    sources = inspection.inspect_files(spark, [(str(p), p.stat().st_size) for p in run])
    assert [s.first_rank for s in sources] == [91, 41, 1]
    assert [s.format for s in sources] == ["youtube_api"] * 3
    # An earlier page that is gone (or no page) counts as a full page of 50.
    pages[0].unlink()
    sources = inspection.inspect_files(spark, [(str(pages[2]), pages[2].stat().st_size)])
    assert [s.first_rank for s in sources] == [101]


def test_the_page_format_is_chosen_by_the_extract_page_name() -> None:
    assert formats.page_format(
        "s3://b/raw/landing_date=2020-08-12/region=us/videos_mostpopular_20200812T010203Z_p001.json"
    )
    assert formats.page_format("/x/region=us/videos_mostpopular_20200812T010203Z_p1.json") is None
    assert formats.page_format("/x/region=us/_manifest_20200812T010203Z.json") is None
    assert formats.page_format("/x/region=us/US.csv") is None
    assert formats.detect_format("") == formats.UNKNOWN_FORMAT
    assert set(LAYOUT.fields) | set(LAYOUT.true_when_absent) | {"trending_date", "chart_rank"} == set(
        formats.RAW_COLUMNS
    ) - {"video_error_or_removed"}
