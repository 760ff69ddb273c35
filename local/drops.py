"""Dated drops for ``make run``: the real datasnaek files split by trending date, every record's bytes kept.

``<out>/drops/YYYY-MM-DD/`` folders are each laid out like a data folder (``raw_statistics/region=xx/*.csv``,
``raw_statistics_reference_data/*.json``): the first ``single_days`` trending dates one drop each, then one
drop holding every later date, so that the daily flow shows days going through and the final reports
equal one full run's. The category files go with the first drop.

A record is split off by its line end outside quotes: quoted fields keep their bare CR / LF, the Kaggle
tags ``"a"|"b"`` keep their quotes, and each record keeps its own terminator (CRLF in the Kaggle originals,
LF in the converted copies); only a file's last record, which may have none, gets the file's line end when
another record follows it in a drop. Deterministic: the same sources give the same bytes.

``python -m local.drops --source ../shared/data/youtube --out .data/quickstart``
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

#: Trending dates that get a drop of their own; later dates share the last drop.
SINGLE_DAYS = 3


class DropError(ValueError):
    """A source file that cannot be split; the message names it and why."""


@dataclass(frozen=True)
class Record:
    data: bytes
    #: The record's own terminator (b"\r\n", b"\n", or b"" for a file's unterminated last record).
    end: bytes
    #: The file ends inside this record's quoted field: a record cut short (rsrishav files end so).
    cut: bool = False


def split_records(data: bytes, allow_cut: bool = False) -> tuple[bytes, list[Record]]:
    """(header line with its terminator, the data records) of a CSV, splitting only outside quotes.

    A file that ends inside a quoted field is an error unless ``allow_cut``: then its tail is a last record
    flagged ``cut``.
    """
    records: list[Record] = []
    start = 0
    quoted = False
    for index, byte in enumerate(data):
        if byte == 0x22:  # "
            quoted = not quoted
        elif byte == 0x0A and not quoted:  # \n
            end = b"\r\n" if index > start and data[index - 1] == 0x0D else b"\n"
            records.append(Record(data[start : index + 1 - len(end)], end))
            start = index + 1
    if quoted and not allow_cut:
        raise DropError("the file ends inside a quoted field (a cut last record)")
    if start < len(data):
        records.append(Record(data[start:], b"", cut=quoted))
    if not records:
        raise DropError("the file is empty")
    header, *rows = records
    return header.data + header.end, rows


def trending_date(record: Record, column: int) -> date | None:
    """The trending date of a record (``YY.DD.MM`` or ISO, in field ``column``); None for a cut record."""
    if record.cut:
        return None
    try:
        text = next(csv.reader(io.StringIO(record.data.decode("utf-8"), newline="")))[column]
        if "." in text:
            year, day, month = (int(part) for part in text.split("."))
            return date(2000 + year, month, day)
        return date.fromisoformat(text[:10])
    except (IndexError, ValueError, StopIteration):
        raise DropError(f"no trending date in field {column} of {record.data[:60]!r}") from None


def drop_dates(days: list[date], single_days: int = SINGLE_DAYS) -> dict[date, date]:
    """Trending date -> the date of the drop it goes into."""
    ordered = sorted(set(days))
    last = ordered[min(single_days, len(ordered) - 1)] if ordered else None
    return {d: d if i < single_days else last for i, d in enumerate(ordered)}  # type: ignore[misc]


def split_file(data: bytes, single_days: int = SINGLE_DAYS) -> dict[date, bytes]:
    """One source CSV (either format) -> its bytes per drop date (header first, records in file order).

    A cut last record (rsrishav) stays the last record of the last drop, still cut.
    """
    header, records = split_records(data, allow_cut=True)
    columns = next(csv.reader(io.StringIO(header.decode("utf-8-sig"))))
    if "trending_date" not in columns:
        raise DropError(f"no trending_date column in the header {header[:80]!r}")
    column = columns.index("trending_date")
    line_end = next((r.end for r in records if r.end), b"\n")
    by_day = [(trending_date(r, column), r) for r in records]
    target = drop_dates([d for d, _ in by_day if d is not None], single_days)
    last = max(target.values(), default=None)
    grouped: dict[date, list[Record]] = defaultdict(list)
    for day, record in by_day:
        drop = target[day] if day is not None else last
        if drop is None:
            raise DropError("no record with a trending date")
        grouped[drop].append(record)
    out = {}
    for drop, rows in grouped.items():
        body = b"".join(
            r.data + (r.end or (line_end if i < len(rows) - 1 else b"")) for i, r in enumerate(rows)
        )
        out[drop] = header + body
    return out


def make_drops(source: Path, out: Path, single_days: int = SINGLE_DAYS) -> list[Path]:
    """Write ``out/drops/<date>/`` from a data folder laid out like ``../shared/data/youtube``.

    The folder is written next to ``out`` and swapped in whole, so an interrupted run leaves the old one.
    """
    csvs = sorted((source / "raw_statistics").glob("region=*/*.csv"))
    jsons = sorted((source / "raw_statistics_reference_data").glob("*.json"))
    # Any other file (a .csv.gz, a misnamed or misplaced one) goes unchanged into the first drop, where
    # the pipeline gives it a verdict: nothing in the source folder is left out unseen.
    others = sorted(
        p
        for folder in ("raw_statistics", "raw_statistics_reference_data")
        for p in (source / folder).rglob("*")
        if p.is_file() and p not in {*csvs, *jsons}
    )
    if not csvs:
        raise DropError(f"{source}: no raw_statistics/region=xx/*.csv")
    per_file = {}
    for path in csvs:
        try:
            per_file[path] = split_file(path.read_bytes(), single_days)
        except DropError as error:
            raise DropError(f"{path}: {error}") from None
    # Every file's days go to the same drops: the drop dates come from all files together.
    all_days = sorted({d for parts in per_file.values() for d in parts})
    first = all_days[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for path, parts in per_file.items():
            for drop, content in parts.items():
                target = (
                    staging / "drops" / drop.isoformat() / "raw_statistics" / path.parent.name / path.name
                )
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        for path in [*jsons, *others]:
            target = staging / "drops" / first.isoformat() / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        manifest = {
            "sources": {
                str(p.relative_to(source)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in [*csvs, *jsons, *others]
            },
            "single_days": single_days,
        }
        (staging / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted((out / "drops").iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.drops", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="data folder (raw_statistics/, ...)")
    parser.add_argument("--out", type=Path, required=True, help="where drops/<date>/ are written")
    parser.add_argument("--single-days", type=int, default=SINGLE_DAYS)
    args = parser.parse_args(argv)
    try:
        drops = make_drops(args.source.resolve(), args.out, args.single_days)
    except DropError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(drops)} dated drops in {args.out}/drops/: {', '.join(d.name for d in drops)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
