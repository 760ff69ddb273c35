"""The Lambda's pure core on the real category files of both datasets, and every rejection reason."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from local.runtime import LAMBDA_SOURCE
from youtube_etl.settings import KNOWN_REGIONS, get_settings

sys.path.insert(0, str(LAMBDA_SOURCE))
import category_reference as cr  # noqa: E402
import function_config  # noqa: E402
import rejection  # noqa: E402

from youtube_lake import invocation  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "youtube"
REAL_FILES = sorted(DATA.glob("raw_statistics_reference_data/*_category_id.json")) + sorted(
    DATA.glob("rsrishav_trending/raw_statistics_reference_data/*_category_id.json")
)
NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
ALLOWED = frozenset(KNOWN_REGIONS)
UTF8_BOM = b"\xef\xbb\xbf"


def _file_id(path: Path) -> str:
    return f"{'rsrishav' if 'rsrishav' in path.parts else 'datasnaek'}-{path.name[:2]}"


def _items_in_sources_md() -> dict[str, int]:
    """'N items' per file as documented in SOURCES.md (written when the files were collected)."""
    counts = {}
    for line in (DATA / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `([^`]+_category_id\.json)` \|.*\| (\d+) items \|", line)
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def _expected_rows(path: Path) -> list[dict[str, Any]]:
    """An independent flattening with plain dict walking, as the test's oracle."""
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    return [
        {
            "category_id": int(item["id"]),
            "category_title": item["snippet"]["title"],
            "assignable": item["snippet"]["assignable"],
            "channel_id": item["snippet"]["channelId"],
            "etag": item["etag"],
        }
        for item in items
    ]


def test_every_real_file_is_found(data_dir: Path) -> None:
    assert data_dir == DATA
    assert len(REAL_FILES) == 21  # 10 datasnaek regions + 11 rsrishav regions
    assert set(_items_in_sources_md()) == {str(p.relative_to(DATA)) for p in REAL_FILES}


@pytest.mark.parametrize("path", [pytest.param(p, id=_file_id(p)) for p in REAL_FILES])
def test_real_file_flattens_to_one_typed_row_per_item(path: Path) -> None:
    body = path.read_bytes()
    key = f"youtube/raw_statistics_reference_data/{path.name}"
    region = cr.region_from_key(key, ALLOWED)
    table = cr.transform(body, key=key, region=region, ingested_at=NOW)

    documented = _items_in_sources_md()[str(path.relative_to(DATA))]
    id_strings = re.findall(rb'"id":\s*"(\d+)"', body)  # raw-text count, independent of any JSON parser
    assert table.num_rows == documented == len(id_strings)
    assert table.schema == cr.OUTPUT_SCHEMA
    assert table.schema.field("category_id").type == pa.int64()
    assert table.schema.field("assignable").type == pa.bool_()

    data_columns = ["category_id", "category_title", "assignable", "channel_id", "etag"]
    assert table.select(data_columns).to_pylist() == _expected_rows(path)
    assert table.column("category_id").to_pylist() == [int(i) for i in id_strings]
    assert set(table.column("region").to_pylist()) == {path.name[:2].lower()}
    assert set(table.column("source_key").to_pylist()) == {key}
    assert set(table.column("ingested_at").to_pylist()) == {NOW}


@pytest.mark.parametrize("path", [pytest.param(p, id=_file_id(p)) for p in REAL_FILES])
def test_fast_reader_handles_real_files_and_matches_strict_reader(path: Path) -> None:
    body = path.read_bytes()
    assert cr._read_fast(body) is not None, "real files must take the fast path"
    kwargs = {"key": path.name, "region": "us", "ingested_at": NOW}
    assert cr.transform(body, **kwargs).equals(cr.transform(body, fast=False, **kwargs))
    # The handler passes the S3 body as a bytearray (one buffer, no copy): same result.
    assert cr.transform(bytearray(body), **kwargs).equals(cr.transform(body, **kwargs))


def test_real_quirks_survive() -> None:
    """Facts from SOURCES.md: US has id 29 and others don't; 'Comedy' twice; 17 non-assignable ids."""
    us = cr.transform(
        (DATA / "raw_statistics_reference_data/US_category_id.json").read_bytes(),
        key="k",
        region="us",
        ingested_at=NOW,
    )
    ca = cr.transform(
        (DATA / "raw_statistics_reference_data/CA_category_id.json").read_bytes(),
        key="k",
        region="ca",
        ingested_at=NOW,
    )
    assert 29 in us.column("category_id").to_pylist()
    assert 29 not in ca.column("category_id").to_pylist()
    comedy = [r["category_id"] for r in us.to_pylist() if r["category_title"] == "Comedy"]
    assert comedy == [23, 34]
    not_assignable = {r["category_id"] for r in us.to_pylist() if r["assignable"] is False}
    assert not_assignable == {18, 21, *range(30, 45)}
    assert us.column("etag")[0].as_py().startswith('"m2yskBQFythfE4irbTIeOgYYfBU/')  # escaped quotes kept


def test_integer_ids_and_absent_optional_fields_take_the_strict_path() -> None:
    body = json.dumps(
        {"items": [{"id": 7, "snippet": {"title": "Seven"}}, {"id": "8", "snippet": {"title": "8"}}]}
    )
    assert cr._read_fast(body.encode()) is None
    table = cr.transform(body.encode(), key="k", region="us", ingested_at=NOW)
    assert table.column("category_id").to_pylist() == [7, 8]
    assert table.column("assignable").to_pylist() == [None, None]
    assert table.column("channel_id").null_count == 2


def test_utf8_bom_is_accepted() -> None:
    body = b"\xef\xbb\xbf" + (DATA / "raw_statistics_reference_data/GB_category_id.json").read_bytes()
    assert cr.transform(body, key="k", region="gb", ingested_at=NOW).num_rows == 31


# ---- rejections ------------------------------------------------------------------------------------


def _real_us() -> dict[str, Any]:
    return json.loads(
        (DATA / "raw_statistics_reference_data/US_category_id.json").read_text(encoding="utf-8")
    )


def _mutated(change: Any) -> bytes:
    document = _real_us()
    change(document)
    return json.dumps(document).encode()


def _set(path: list[Any], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _pop(path: list[Any]) -> Any:
    def change(document: dict[str, Any]) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        target.pop(path[-1])

    return change


REJECTIONS = [
    pytest.param(b"", "empty_file", "0 bytes", id="empty"),
    pytest.param(b" \r\n\t ", "empty_file", "5 bytes", id="whitespace-only"),
    pytest.param(b'{"items": [', "not_json", "", id="truncated"),
    pytest.param(b"\xff\xfe\x00garbage", "not_utf8", "byte 0xFF at offset 0", id="not-utf8"),
    pytest.param(b"<html>502 Bad Gateway</html>", "not_json", "", id="html"),
    pytest.param(
        b'{"items": [{"id": "1", "snippet": {"title": "a"}}]} {}', "not_json", "Extra data", id="two-docs"
    ),
    pytest.param(b"[1, 2]", "no_items", "array", id="top-level-array"),
    pytest.param(_mutated(_pop(["items"])), "no_items", "missing", id="items-missing"),
    pytest.param(_mutated(_set(["items"], {"id": "1"})), "no_items", "object", id="items-object"),
    pytest.param(_mutated(_set(["items"], [])), "no_items", "empty", id="items-empty"),
    pytest.param(_mutated(_set(["items"], None)), "no_items", "", id="items-null"),
    pytest.param(_mutated(_pop(["items", 3, "id"])), "item_without_id", "items[3]", id="id-missing"),
    pytest.param(_mutated(_set(["items", 4, "id"], None)), "item_without_id", "items[4]", id="id-null"),
    pytest.param(_mutated(_set(["items", 5], None)), "item_without_id", "items[5]", id="item-null"),
    pytest.param(_mutated(_set(["items", 5], "Music")), "item_without_id", "items[5]", id="item-string"),
    pytest.param(
        _mutated(_pop(["items", 6, "snippet", "title"])), "item_without_title", "items[6]", id="title-missing"
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "")),
        "item_without_title",
        "items[6]",
        id="title-empty",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], 12)),
        "item_without_title",
        "items[6]",
        id="title-number",
    ),
    pytest.param(
        _mutated(_pop(["items", 7, "snippet"])), "item_without_title", "items[7]", id="snippet-missing"
    ),
    pytest.param(_mutated(_set(["items", 8, "id"], "abc")), "non_integer_id", "'abc'", id="id-letters"),
    pytest.param(
        _mutated(_set(["items", 8, "id"], "1.5")), "non_integer_id", "'1.5'", id="id-decimal-string"
    ),
    pytest.param(_mutated(_set(["items", 8, "id"], 1.5)), "non_integer_id", "1.5", id="id-float"),
    pytest.param(_mutated(_set(["items", 8, "id"], "-3")), "non_integer_id", "'-3'", id="id-negative"),
    pytest.param(_mutated(_set(["items", 8, "id"], " 3")), "non_integer_id", "' 3'", id="id-padded"),
    pytest.param(_mutated(_set(["items", 8, "id"], True)), "non_integer_id", "True", id="id-bool"),
    pytest.param(_mutated(_set(["items", 8, "id"], "1" * 19)), "non_integer_id", "", id="id-beyond-bigint"),
    pytest.param(
        _mutated(_set(["items", 9, "snippet", "assignable"], "yes")),
        "invalid_field",
        "assignable",
        id="assignable-string",
    ),
    pytest.param(
        _mutated(_set(["items", 9, "snippet", "channelId"], 5)),
        "invalid_field",
        "channelId",
        id="channel-number",
    ),
    pytest.param(_mutated(_set(["items", 9, "etag"], ["x"])), "invalid_field", "etag", id="etag-list"),
    pytest.param(
        _mutated(_set(["items", 10, "id"], "1")), "duplicate_id", "items[0] and items[10]", id="duplicate"
    ),
    # Issue 16: bodies that crashed the process or slipped through.
    pytest.param(b"null", "no_items", "null", id="null"),
    pytest.param(b" \n null \n", "no_items", "null", id="null-padded"),
    pytest.param(UTF8_BOM + b"null", "no_items", "null", id="bom-null"),
    pytest.param(b"nulll", "not_json", "Extra data", id="null-and-more"),
    pytest.param(b"null {}", "not_json", "Extra data", id="null-then-object"),
    pytest.param(b"true", "no_items", "boolean", id="scalar-true"),
    pytest.param(b"42", "no_items", "number", id="scalar-number"),
    pytest.param(b'"items"', "no_items", "string", id="scalar-string"),
    pytest.param(b"[]", "no_items", "array", id="empty-array"),
    pytest.param(b'[{"items": []}]', "no_items", "array", id="array-of-document"),
    pytest.param(b"NaN", "not_json", "NaN is not a JSON value", id="nan"),
    pytest.param(
        _mutated(_set(["items", 2, "id"], 1)).replace(b'"id": 1,', b'"id": Infinity,', 1),
        "not_json",
        "Infinity",
        id="infinity",
    ),
    pytest.param(b'{"items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "too_deep", "levels", id="deep"),
    pytest.param(b"[" * 5_000_000, "too_deep", "levels", id="deep-unclosed-5mb"),
    pytest.param(b"\x00" * 64, "not_json", "", id="nul-bytes"),
    pytest.param('{"items": []}'.encode("utf-16-le"), "not_json", "", id="utf16-without-bom"),
    pytest.param('{"items": []}'.encode("utf-16"), "not_utf8", "offset 0", id="utf16-with-bom"),
    pytest.param(UTF8_BOM, "empty_file", "3 bytes", id="bom-only"),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "caf\u00e9")).replace(b"caf\\u00e9", b"caf\xe9"),
        "not_utf8",
        "byte 0xE9 at offset",
        id="latin1-title",
    ),
    pytest.param(
        b'{"items": [{"id": "1", "snippet": {"title": "\xed\xa0\x80"}}]}', "not_utf8", "0xED", id="surrogate"
    ),
    pytest.param(
        b'{"items": [{"id": "1", "snippet": {"title": "\xc0\xaf"}}]}', "not_utf8", "0xC0", id="overlong"
    ),
    pytest.param(
        b'{"items": [{"id": "1", "snippet": {"title": "\xe2\x82', "not_utf8", "0xE2", id="cut-character"
    ),
    pytest.param(
        b'{"items": [], "items": [{"id": "1", "snippet": {"title": "a"}}]}',
        "duplicate_key",
        "'items'",
        id="duplicate-member",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "   ")),
        "invalid_title",
        "items[6]",
        id="title-spaces",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "\u200b\u3000\ufeff")),
        "invalid_title",
        "blank",
        id="title-invisible",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "Mu\x00sic")),
        "invalid_title",
        "U+0000 at position 2",
        id="title-nul",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "\x00\x00")),
        "invalid_title",
        "U+0000",
        id="title-only-nul",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "Film\tAnimation")),
        "invalid_title",
        "U+0009",
        id="title-tab",
    ),
    pytest.param(
        _mutated(_set(["items", 6, "snippet", "title"], "News\x85")), "invalid_title", "U+0085", id="title-c1"
    ),
]


@pytest.mark.parametrize(("body", "reason", "detail"), REJECTIONS)
def test_bad_documents_are_rejected_with_their_reason(body: bytes, reason: str, detail: str) -> None:
    with pytest.raises(rejection.Rejected) as caught:
        cr.transform(
            body,
            key="youtube/raw_statistics_reference_data/US_category_id.json",
            region="us",
            ingested_at=NOW,
        )
    assert caught.value.reason == reason
    assert detail in caught.value.detail
    assert str(caught.value).startswith(f"{reason}: ")
    # The fast reader must never accept what the strict one rejects (UTF-8 is checked before either).
    assert reason == "not_utf8" or cr._read_fast(body) is None


#: Decided outside transform: by the handler from the key or the stored partition (tests/aws), by gunzip and
#: check_category_drop / check_category_count (below), or for failures no rule names (unreadable).
DECIDED_ELSEWHERE = {
    "unknown_region",
    "bad_landing_date",
    "key_too_long",
    "too_large",
    "not_gzip",
    "categories_dropped",
    "too_few_categories",
    "in_quarantine",
    "unreadable",
}


def test_every_reason_is_exercised() -> None:
    tested = {case.values[1] for case in REJECTIONS}
    assert tested | DECIDED_ELSEWHERE == set(rejection.REASONS)
    assert not tested & DECIDED_ELSEWHERE


def test_the_fast_reader_never_crashes_the_process() -> None:
    """pyarrow 25 segfaults on a body starting with ``null``: every rejected body, run in a child process."""
    bodies = [case.values[0] for case in REJECTIONS]
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(LAMBDA_SOURCE)!r})\n"
        "import category_reference as cr\n"
        "for body in json.load(sys.stdin):\n"
        "    cr._read_fast(bytes.fromhex(body))\n"
        "print('survived')\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([b.hex() for b in bodies]),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (child.returncode, child.stdout.strip()) == (0, "survived"), child.stderr[-2000:]


def test_utf8_check_names_the_offset_across_chunk_boundaries() -> None:
    chunk = cr._UTF8_CHUNK
    # A valid 3-byte character cut by the chunk boundary is fine; a bad byte after it is found at its offset.
    body = b"a" * (chunk - 1) + "\u20ac".encode() + b"b" * 10 + b"\xe9" + b"c"
    with pytest.raises(rejection.Rejected, match=f"not_utf8: byte 0xE9 at offset {chunk - 1 + 3 + 10}$"):
        cr.check_utf8(body)
    cr.check_utf8(b"a" * (chunk - 1) + "\u20ac".encode() + b"b" * 10)
    cr.check_utf8(bytearray(UTF8_BOM + "ünïcødé ✓ 𝄞".encode()))
    with pytest.raises(rejection.Rejected, match="offset 2"):
        cr.check_utf8(b"ab\xf0\x9d\x84")  # a 4-byte character cut at the end


def test_blank_characters_cover_python_white_space() -> None:
    """The fast reader's RE2 class and the strict reader's re class are built from one list: check it."""
    assert {c for c in map(chr, range(0x110000)) if c.isspace()} <= set(cr.BLANK_CHARACTERS)


@pytest.mark.parametrize(
    "title",
    [
        pytest.param(" \u00a0\u2003", id="spaces"),
        pytest.param("\u200b", id="zero-width"),
        pytest.param("a\u200b", id="visible-and-zero-width"),
        pytest.param("Film & Animation", id="real"),
        pytest.param("\x7f", id="delete"),
        pytest.param("x\x9f", id="c1-last"),
        pytest.param("\u00a0x", id="nbsp-and-letter"),
    ],
)
def test_fast_and_strict_readers_agree_on_titles(title: str) -> None:
    body = json.dumps({"items": [{"id": "1", "snippet": {"title": title}}]}).encode()
    try:
        strict = cr.transform(body, key="k", region="us", ingested_at=NOW, fast=False)
    except rejection.Rejected:
        strict = None
    fast = cr._read_fast(body)
    assert (fast is None) or (strict is not None and fast[1].to_pylist() == [title])


# ---- gzip and the category drop ----------------------------------------------------------------------


def test_gunzip_reads_every_member() -> None:
    body = (DATA / "raw_statistics_reference_data/US_category_id.json").read_bytes()
    assert cr.gunzip(gzip.compress(body), limit=len(body)) == body
    half = len(body) // 2
    assert cr.gunzip(gzip.compress(body[:half]) + gzip.compress(body[half:]), limit=len(body)) == body


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        pytest.param(b"", "empty_file", "0 bytes", id="empty"),
        pytest.param(b'{"items": []}', "not_gzip", "header", id="plain-json"),
        pytest.param(gzip.compress(b"x" * 1000)[:-12], "not_gzip", "ends early", id="truncated"),
        pytest.param(gzip.compress(b"{}") + b"garbage", "not_gzip", "header", id="trailing-garbage"),
        pytest.param(gzip.compress(b"\0" * 10_000_000), "too_large", "more than 1000000 bytes", id="bomb"),
    ],
)
def test_gunzip_rejections(data: bytes, reason: str, detail: str) -> None:
    with pytest.raises(rejection.Rejected) as caught:
        cr.gunzip(data, limit=1_000_000)
    assert caught.value.reason == reason
    assert detail in caught.value.detail


def test_gunzip_stops_at_the_limit_without_inflating_everything() -> None:
    bomb = gzip.compress(b"\0" * 200_000_000)  # ~200 KB that would inflate to 200 MB
    before = _peak_rss_mb()
    with pytest.raises(rejection.Rejected, match="too_large"):
        cr.gunzip(bomb, limit=1_000_000)
    assert _peak_rss_mb() - before < 50


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize(
    ("stored", "new", "threshold", "rejected"),
    [
        pytest.param(range(31), [1], 0.5, True, id="one-item-replaces-31"),
        pytest.param(range(10), range(5), 0.5, False, id="exactly-the-threshold"),
        pytest.param(range(10), range(4), 0.5, True, id="just-above"),
        pytest.param(range(31), range(32), 0.5, False, id="grows"),
        pytest.param(range(31), range(100, 131), 0.5, True, id="all-new-ids"),
        pytest.param([], [1], 0.0, False, id="nothing-stored"),
        pytest.param(range(10), range(9), 0.0, True, id="zero-tolerance"),
        pytest.param(range(10), [], 1.0, False, id="threshold-one"),
    ],
)
def test_category_drop(stored: Any, new: Any, threshold: float, rejected: bool) -> None:
    def check() -> None:
        cr.check_category_drop(list(stored), list(new), threshold=threshold, region="us", holder="h")

    if rejected:
        message = r"categories_dropped: \d+ of the \d+ categories region=us"
        with pytest.raises(rejection.Rejected, match=message):
            check()
    else:
        check()


@pytest.mark.parametrize(
    ("key", "region"),
    [
        pytest.param("youtube/raw_statistics_reference_data/US_category_id.json", "us", id="upper"),
        pytest.param("youtube/raw_statistics_reference_data/br_category_id.json", "br", id="lower"),
        pytest.param(
            "youtube/raw_statistics_reference_data/drop 1/ünï/KR_category_id.json", "kr", id="nested"
        ),
        pytest.param("GB_category_id.json", "gb", id="no-folder"),
        pytest.param("youtube/raw_statistics_reference_data/FR_category_id.json.gz", "fr", id="gzip"),
    ],
)
def test_region_comes_from_the_file_name(key: str, region: str) -> None:
    assert cr.region_from_key(key, ALLOWED) == region


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("youtube/raw_statistics_reference_data/XX_category_id.json", id="unknown-code"),
        pytest.param("youtube/raw_statistics_reference_data/USA_category_id.json", id="three-letters"),
        pytest.param("youtube/raw_statistics_reference_data/US_category.json", id="wrong-suffix"),
        pytest.param("youtube/raw_statistics_reference_data/category_id.json", id="no-code"),
        pytest.param("youtube/raw_statistics_reference_data/US_category_id.json/", id="folder"),
        pytest.param("youtube/US/category_id.json", id="code-in-folder"),
        pytest.param("youtube/raw_statistics_reference_data/US_category_id.JSON", id="upper-case-suffix"),
        pytest.param("youtube/raw_statistics_reference_data/US_category_id.json.zip", id="zip"),
        pytest.param("youtube/raw_statistics_reference_data/US_category_id.gz", id="gz-without-json"),
    ],
)
def test_unknown_region_is_rejected(key: str) -> None:
    with pytest.raises(rejection.Rejected) as caught:
        cr.region_from_key(key, ALLOWED)
    assert caught.value.reason == "unknown_region"


def test_region_must_be_allowed() -> None:
    with pytest.raises(rejection.Rejected, match="unknown_region: region 'br'"):
        cr.region_from_key("BR_category_id.json", frozenset({"us", "ca"}))


def test_transform_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cr.transform(b"{}", key="k", region="us", ingested_at=datetime(2026, 1, 1))


# ---- configuration and layout ------------------------------------------------------------------------


def test_env_vars_are_exactly_what_settings_provide() -> None:
    assert set(function_config.ENV_VARS) == set(get_settings({}).lambda_environment())


def test_config_from_settings_environment() -> None:
    settings = get_settings({})
    config = function_config.Config.from_environ(settings.lambda_environment())
    assert config.processed_bucket == settings.processed_bucket
    assert config.table_uri == settings.category_reference_uri
    assert config.allowed_regions == ALLOWED
    output_file = function_config.OUTPUT_FILE
    assert config.output_key("us") == f"{settings.prefixes.category_reference}region=us/{output_file}"
    assert config.partition_uri("us") == f"{settings.category_reference_uri}region=us/"
    assert (config.glue_database, config.glue_table) == (
        settings.processed_database,
        settings.category_reference_table,
    )
    ledger_name = f"{sha256(b'k').hexdigest()}_abc.json"
    assert config.ledger_key("k", '"abc"') == f"{settings.prefixes.landing_ledger}{ledger_name}"
    assert config.landing_prefix == settings.prefixes.raw_reference
    assert config.category_drop_threshold == settings.category_drop_threshold
    assert config.min_categories == settings.min_categories == 10
    assert config.max_body_bytes == settings.reference_max_bytes


def test_one_region_definition_reaches_the_function() -> None:
    """The data_regions setting is what the Lambda accepts: drop a region there and its files are rejected."""
    settings = get_settings({}, data_regions="us,ca")
    config = function_config.Config.from_environ(settings.lambda_environment())
    assert config.allowed_regions == {"us", "ca"}
    with pytest.raises(rejection.Rejected, match="unknown_region: region 'gb'"):
        cr.region_from_key("GB_category_id.json", config.allowed_regions)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        pytest.param("CATEGORY_DROP_THRESHOLD", "1.5", "not a fraction", id="threshold-above-one"),
        pytest.param("CATEGORY_DROP_THRESHOLD", "half", "CATEGORY_DROP_THRESHOLD", id="threshold-text"),
        pytest.param("MAX_BODY_BYTES", "0", "must be positive", id="max-bytes-zero"),
        pytest.param("MIN_CATEGORIES", "0", "MIN_CATEGORIES='0' must be a whole number", id="min-zero"),
        pytest.param("MIN_CATEGORIES", "-3", "MIN_CATEGORIES='-3'", id="min-negative"),
        pytest.param("MIN_CATEGORIES", "ten", "MIN_CATEGORIES='ten'", id="min-text"),
        pytest.param("MIN_CATEGORIES", "9.5", "MIN_CATEGORIES='9.5'", id="min-fraction"),
        pytest.param("MIN_CATEGORIES", "١٠", "MIN_CATEGORIES=", id="min-arabic-digits"),
        pytest.param("LEDGER_BUCKET", "RAW", "LEDGER_BUCKET equals RAW_BUCKET", id="ledger-in-raw"),
    ],
)
def test_bad_limits_are_refused(name: str, value: str, message: str) -> None:
    environ = get_settings({}).lambda_environment()
    environ[name] = environ["RAW_BUCKET"] if value == "RAW" else value
    with pytest.raises(function_config.ConfigError, match=message):
        function_config.Config.from_environ(environ)


@pytest.mark.parametrize("missing", [pytest.param(name, id=name) for name in function_config.ENV_VARS])
def test_missing_variable_is_named(missing: str) -> None:
    environ = get_settings({}).lambda_environment()
    del environ[missing]
    with pytest.raises(function_config.ConfigError, match=f"missing environment variable\\(s\\): {missing}$"):
        function_config.Config.from_environ(environ)
    environ[missing] = "  "
    with pytest.raises(function_config.ConfigError, match=missing):
        function_config.Config.from_environ(environ)


def test_refuses_to_write_into_the_raw_bucket() -> None:
    environ = get_settings({}).lambda_environment()
    environ["PROCESSED_BUCKET"] = environ["RAW_BUCKET"]
    with pytest.raises(function_config.ConfigError, match="refusing to write into the raw bucket"):
        function_config.Config.from_environ(environ)


@pytest.mark.parametrize("bad", [pytest.param("usa", id="three-letters"), pytest.param("éa", id="non-ascii")])
def test_bad_region_list_is_refused(bad: str) -> None:
    environ = get_settings({}).lambda_environment() | {"ALLOWED_REGIONS": f"us,{bad}"}
    with pytest.raises(function_config.ConfigError, match=bad):
        function_config.Config.from_environ(environ)


def test_the_parquet_schema_is_the_catalog_contract() -> None:
    """The pyarrow schema the Lambda writes, read as Glue types, is the lake's category_reference columns."""
    glue_types = {pa.int64(): "bigint", pa.string(): "string", pa.bool_(): "boolean"}
    written = {
        f.name: glue_types.get(f.type, "timestamp" if pa.types.is_timestamp(f.type) else str(f.type))
        for f in cr.OUTPUT_SCHEMA
        if f.name != function_config.PARTITION_COLUMN
    }
    assert written == function_config.GLUE_COLUMN_TYPES
    assert cr.OUTPUT_SCHEMA.names[-1] == function_config.PARTITION_COLUMN


def test_prefixes_are_normalised_to_folders() -> None:
    environ = get_settings({}).lambda_environment() | {"PROCESSED_PREFIX": "/a/b", "QUARANTINE_PREFIX": "q"}
    config = function_config.Config.from_environ(environ)
    assert config.output_key("us") == f"a/b/region=us/{function_config.OUTPUT_FILE}"
    assert config.quarantine_keys("x/US_category_id.json", "r-1", NOW)[0].startswith("q/reference_data/")


def test_quarantine_layout() -> None:
    config = function_config.Config.from_environ(get_settings({}).lambda_environment())
    key = "youtube/raw_statistics_reference_data/drop 1/US_category_id.json"
    copy_key, report_key = config.quarantine_keys(key, "0f1e-2d3c/../x", NOW)
    assert copy_key == f"quarantine/reference_data/date=2026-11-24/0f1e-2d3c____x/{key}"
    assert report_key == copy_key + ".error.json"
    # Never under the landing prefix the S3 trigger watches (no recursive invocations).
    assert not copy_key.startswith(get_settings({}).prefixes.raw_reference)


def test_error_report_fields() -> None:
    rejected = rejection.Rejected("not_json", "Expecting value: line 1 column 1 (char 0)")
    source = invocation.S3Object("raw", "k/US_category_id.json", "v1")
    report = rejection.error_report(
        rejected=rejected, source=source, request_id="req", at=NOW, copy_uri="s3://raw/q"
    )
    assert report["reason"] == "not_json"
    assert report["detail"] == rejected.detail
    assert report["source"] == {"bucket": "raw", "key": "k/US_category_id.json", "version_id": "v1"}
    assert report["request_id"] == "req"
    assert datetime.fromisoformat(report["time"]) == NOW
    json.dumps(report)


def test_unknown_reason_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown rejection reason"):
        rejection.Rejected("bad_vibes", "x")


# ---- events ------------------------------------------------------------------------------------------


def test_parse_event_decodes_every_record() -> None:
    event = {
        "Records": [
            {
                "s3": {
                    "bucket": {"name": "raw"},
                    "object": {"key": "a/US_category_id.json", "versionId": "v1"},
                }
            },
            {
                "s3": {
                    "bucket": {"name": "raw"},
                    "object": {"key": "a/drop+2/%C3%BCn%C3%AF+x/CA_category_id.json"},
                }
            },
            {"s3": {"bucket": {"name": "raw"}, "object": {"key": "a/100%25+sure/GB_category_id.json"}}},
        ]
    }
    assert invocation.parse_event(event) == [
        invocation.S3Object("raw", "a/US_category_id.json", "v1"),
        invocation.S3Object("raw", "a/drop 2/ünï x/CA_category_id.json"),
        invocation.S3Object("raw", "a/100% sure/GB_category_id.json"),
    ]


def test_s3_event_round_trips_through_parse_event() -> None:
    keys = ["a/drop 2/ünï+x/CA_category_id.json", "b/US_category_id.json"]
    event = invocation.s3_event("raw", keys)
    assert "+" in event["Records"][0]["s3"]["object"]["key"]  # spaces encoded as S3 does
    assert [(o.bucket, o.key) for o in invocation.parse_event(event)] == [("raw", k) for k in keys]


def test_parse_event_keeps_the_named_version() -> None:
    event = {"Records": [{"s3": {"bucket": {"name": "raw"}, "object": {"key": "k", "eTag": '"e1"'}}}]}
    assert invocation.parse_event(event) == [invocation.S3Object("raw", "k", None, "e1")]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param({"Records": []}, invocation.RunInfo("s3-event:req-1"), id="s3-event"),
        pytest.param(
            {"Records": [], "airflow": {"run_id": "s__1", "interval_start": "a", "interval_end": "b"}},
            invocation.RunInfo("s__1", "a", "b"),
            id="scheduled",
        ),
        pytest.param({"Records": [], "airflow": {"run_id": "m"}}, invocation.RunInfo("m"), id="no-interval"),
    ],
)
def test_parse_run(event: dict[str, Any], expected: invocation.RunInfo) -> None:
    assert invocation.parse_run(event, "req-1") == expected


@pytest.mark.parametrize(
    "airflow",
    [
        pytest.param("scheduled__x", id="string"),
        pytest.param({}, id="no-run-id"),
        pytest.param({"run_id": ""}, id="empty-run-id"),
        pytest.param({"run_id": 5}, id="number-run-id"),
        pytest.param({"run_id": "r", "interval_start": 5}, id="number-interval"),
    ],
)
def test_malformed_airflow_member_raises(airflow: Any) -> None:
    with pytest.raises(ValueError, match="airflow"):
        invocation.parse_run({"Records": [], "airflow": airflow}, "req")


def test_s3_test_event_has_no_records() -> None:
    assert invocation.parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "raw"}) == []


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({}, id="no-records"),
        pytest.param({"Records": "x"}, id="records-not-list"),
        pytest.param({"Records": [{"s3": {"bucket": {}}}]}, id="no-bucket-name"),
        pytest.param({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}]}, id="empty-key"),
        pytest.param([], id="not-an-object"),
    ],
)
def test_malformed_event_raises(event: Any) -> None:
    with pytest.raises(ValueError):
        invocation.parse_event(event)


@pytest.mark.parametrize(
    ("count", "minimum", "rejected"),
    [
        pytest.param(1, 10, True, id="one-of-ten"),
        pytest.param(9, 10, True, id="one-short"),
        pytest.param(10, 10, False, id="exactly-the-minimum"),
        pytest.param(31, 10, False, id="a-real-file"),
        pytest.param(1, 1, False, id="minimum-one"),
    ],
)
def test_category_count(count: int, minimum: int, rejected: bool) -> None:
    def check() -> None:
        cr.check_category_count(count, minimum=minimum, region="kr")

    if rejected:
        noun = "category" if count == 1 else "categories"
        with pytest.raises(rejection.Rejected) as caught:
            check()
        assert caught.value.reason == "too_few_categories"
        assert str(caught.value) == (
            f"too_few_categories: {count} {noun} where at least {minimum} are expected (MIN_CATEGORIES) "
            "for region=kr: an implausible categories response"
        )
    else:
        check()


def test_every_real_category_file_clears_the_default_minimum() -> None:
    """The default sits well below the smallest real file (31 items): none of the 21 is quarantined."""
    minimum = get_settings({}).min_categories
    assert len(REAL_FILES) == 21
    for path in REAL_FILES:
        rows = cr.transform(path.read_bytes(), key=path.name, region="us", ingested_at=NOW).num_rows
        assert rows >= 3 * minimum, _file_id(path)
        cr.check_category_count(rows, minimum=minimum, region="us")
