"""The quickstart's dated drops: the real datasnaek files split by trending date, each record's bytes kept."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from local.drops import DropError, drop_dates, make_drops, split_file, split_records

HEADER = b"video_id,trending_date,title,description\r\n"


def test_line_ends_inside_quotes_and_the_tags_quirk_stay_in_their_record() -> None:
    rows = [
        b'aaaaaaaaaaa,17.14.11,"t""q",' + b'"line\rbreak\r\nand ""quotes"""',  # CR and CRLF inside quotes
        b'bbbbbbbbbbb,17.15.11,"x"|"y","d"',  # Kaggle tags: each tag quoted, joined by |
    ]
    header, records = split_records(HEADER + rows[0] + b"\r\n" + rows[1] + b"\r\n")
    assert header == HEADER
    assert [(r.data, r.end) for r in records] == [(rows[0], b"\r\n"), (rows[1], b"\r\n")]


def test_a_last_record_without_line_end_is_kept_as_is() -> None:
    _, records = split_records(b"h\n" + b"r1\n" + b"r2")
    assert [(r.data, r.end) for r in records] == [(b"r1", b"\n"), (b"r2", b"")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b'h\nr1,"cut', "ends inside a quoted field", id="cut-record"),
        pytest.param(b"", "empty", id="empty"),
    ],
)
def test_files_that_cannot_be_split_are_errors(data: bytes, message: str) -> None:
    with pytest.raises(DropError, match=message):
        split_records(data)


def test_the_first_days_get_a_drop_each_and_the_rest_share_the_last() -> None:
    days = [date(2017, 11, d) for d in (17, 14, 15, 16, 18, 14)]
    assert drop_dates(days, single_days=3) == {
        date(2017, 11, 14): date(2017, 11, 14),
        date(2017, 11, 15): date(2017, 11, 15),
        date(2017, 11, 16): date(2017, 11, 16),
        date(2017, 11, 17): date(2017, 11, 17),
        date(2017, 11, 18): date(2017, 11, 17),
    }


def test_a_file_ending_without_newline_gets_one_only_between_records() -> None:
    h = b"video_id,trending_date\n"
    data = h + b"a,17.15.11\n" + b"b,17.14.11"  # the last record (no LF) goes before another one
    assert split_file(data, single_days=0) == {date(2017, 11, 14): h + b"a,17.15.11\nb,17.14.11"}
    parts = split_file(h + b"b,17.14.11\na,17.15.11", single_days=1)
    assert parts == {date(2017, 11, 14): h + b"b,17.14.11\n", date(2017, 11, 15): h + b"a,17.15.11"}


def test_rsrishav_iso_dates_and_the_cut_last_record_go_to_the_last_drop() -> None:
    h = b"video_id,title,trending_date\n"
    data = h + b'"a","t","2020-08-13T00:00:00Z"\n"b","t","2020-08-12T00:00:00Z"\n"c","cut sh'
    parts = split_file(data, single_days=1)
    assert parts == {
        date(2020, 8, 12): h + b'"b","t","2020-08-12T00:00:00Z"\n',
        date(2020, 8, 13): h + b'"a","t","2020-08-13T00:00:00Z"\n"c","cut sh',
    }


@pytest.fixture(scope="module")
def drops(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quickstart") / "qs"
    make_drops(data_dir, out)
    return out


def test_real_files_split_into_three_single_days_and_the_rest(drops: Path) -> None:
    names = [p.name for p in sorted((drops / "drops").iterdir())]
    assert names == ["2017-11-14", "2017-11-15", "2017-11-16", "2017-11-17"]
    first = drops / "drops" / "2017-11-14" / "raw_statistics_reference_data"
    assert len(list(first.glob("*_category_id.json"))) == 10
    assert not list((drops / "drops").glob("2017-11-1[567]/raw_statistics_reference_data"))


def test_every_record_keeps_its_bytes_and_lands_in_its_days_drop(drops: Path, data_dir: Path) -> None:
    for source in sorted((data_dir / "raw_statistics").glob("region=*/*.csv")):
        original = source.read_bytes()
        header, records = split_records(original)
        parts = sorted((drops / "drops").glob(f"*/raw_statistics/{source.parent.name}/{source.name}"))
        assert len(parts) == 4
        got: Counter[bytes] = Counter()
        for part in parts:
            data = part.read_bytes()
            assert data.startswith(header)
            _, mine = split_records(data)
            day = date.fromisoformat(part.parents[2].name)
            for record in mine:
                got[record.data] += 1
                kaggle = record.data.split(b",")[1].decode()
                trending = date(2000 + int(kaggle[:2]), int(kaggle[6:]), int(kaggle[3:5]))
                assert trending == day or (day == date(2017, 11, 17) and trending > day)
        assert got == Counter(r.data for r in records), source.name
        # The quirks survive: the csv module reads the same records from the parts as from the original.
        rows = lambda data: list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))[1:]  # noqa: E731
        assert sorted(r for p in parts for r in rows(p.read_bytes())) == sorted(rows(original))


def test_regenerating_gives_the_same_bytes(drops: Path, data_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "qs"
    make_drops(data_dir, again)
    files = sorted(p.relative_to(drops) for p in drops.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((drops / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_files_it_cannot_split_go_unchanged_into_the_first_drop(data_dir: Path, tmp_path: Path) -> None:
    """A .csv.gz, a CSV outside a region folder or a stray file is not left out of the drops: it lands in
    the first one, where the pipeline gives it a verdict."""
    import shutil

    source = tmp_path / "source"
    shutil.copytree(data_dir / "raw_statistics", source / "raw_statistics")
    shutil.copytree(data_dir / "raw_statistics_reference_data", source / "raw_statistics_reference_data")
    extras = {
        "raw_statistics/region=us/USvideos.csv.gz": b"\x1f\x8b not really",
        "raw_statistics/USvideos.csv": b"video_id,trending_date\n",
        "raw_statistics_reference_data/notes.txt": b"hello",
        "raw_statistics_reference_data/more/US_category_id.json": b"{}",
    }
    for name, data in extras.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    out = tmp_path / "qs"
    make_drops(source, out)
    first = out / "drops" / "2017-11-14"
    assert {name: (first / name).read_bytes() for name in extras} == extras
    assert not [p for p in (out / "drops").glob("2017-11-1[567]/**/*") if p.name in {"notes.txt", "more"}]
