"""Region codes: two lower-case ASCII letters, as partitions name them (``region=us``)."""

from __future__ import annotations

#: Regions of the Kaggle trending datasets (datasnaek: 10, rsrishav adds BR). Lower case, as partitions.
KNOWN_REGIONS: tuple[str, ...] = ("br", "ca", "de", "fr", "gb", "in", "jp", "kr", "mx", "ru", "us")

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


def is_region_code(code: str) -> bool:
    """Two lower-case ASCII letters (``str.isalpha`` would also take ``"éa"``)."""
    return len(code) == 2 and all(c in _LETTERS for c in code)


def normalize_region(code: str) -> str | None:
    """A region as written in a key or file name (``US``, `` us``) -> ``us``; None when it is not one."""
    value = code.strip().lower()
    return value if is_region_code(value) else None


def parse_region_codes(text: str) -> tuple[str, ...]:
    """``"us,gb"`` -> ``("us", "gb")`` in the given order; ValueError naming what is not a code."""
    codes = tuple(code.strip() for code in text.split(",") if code.strip())
    bad = [code for code in codes if not is_region_code(code)]
    if not codes or bad or len(set(codes)) != len(codes):
        raise ValueError(
            f"{text!r} is not distinct two-letter lower-case region codes, comma-separated"
            + (f" ({', '.join(map(repr, bad))} is not one)" if bad else "")
        )
    return codes
