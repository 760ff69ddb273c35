"""CJK text readable offline: the page carries its own subset of Noto Sans CJK.

Channel and video titles of JP, KR (and Chinese-language) channels are CJK; a machine without a CJK font —
a fresh Linux box, headless Chromium, a container — draws them as empty boxes, and the page may not fetch a
web font. So the page embeds Noto Sans CJK (the registry package ``noto-cjk-sans-otc``, SIL OFL 1.1) cut down
with fontTools to exactly the CJK characters the page shows: a few hundred glyphs, tens of KB as WOFF,
instead of the 19 MB collection. Its ``@font-face`` declares ``unicode-range`` over those characters only,
so Latin, Cyrillic and the rest keep the system font and only CJK text uses the embedded one.
"""

from __future__ import annotations

import base64
import io
from functools import cache

#: The family name the embedded subset is declared under; listed after the system fonts.
FAMILY = "YouTube ETL CJK"
#: System fonts first (they draw Latin and most scripts better), then the embedded CJK subset.
SYSTEM_FAMILIES = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif'
#: Noto Sans CJK JP, the first font of the collection; every member covers kana, Hangul and the ideographs.
COLLECTION_INDEX = 0

#: Unicode blocks drawn with the embedded font: Hangul Jamo, CJK radicals through CJK unified ideographs
#: (incl. kana, bopomofo, CJK symbols and punctuation), Hangul syllables, compatibility ideographs and forms,
#: halfwidth/fullwidth forms, and the supplementary ideographic planes.
CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x1100, 0x11FF),
    (0x2E80, 0x9FFF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7FF),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF),
    (0x20000, 0x3FFFF),
)


def is_cjk(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in CJK_RANGES)


@cache
def _font_bytes() -> bytes:
    from noto_cjk_sans_otc import FONT_PATH

    return FONT_PATH.read_bytes()


def cjk_subset(text: str) -> tuple[bytes, list[int]]:
    """A WOFF font with the glyphs of ``text``'s CJK characters the font has, and those code points."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(_font_bytes()), fontNumber=COLLECTION_INDEX, lazy=False)
    cmap = font.getBestCmap()
    codepoints = sorted({ord(c) for c in text if is_cjk(c) and ord(c) in cmap})
    if not codepoints:
        return b"", []
    options = subset.Options()
    options.flavor = "woff"  # zlib: no brotli needed, every browser reads it
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.flavor = "woff"
    font.save(buffer)
    return buffer.getvalue(), codepoints


def _unicode_range(codepoints: list[int]) -> str:
    """``U+4E00-4E05,U+AC00`` — consecutive code points merged."""
    spans: list[list[int]] = []
    for code in codepoints:
        if spans and code == spans[-1][1] + 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return ",".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in spans)


def font_face(text: str) -> tuple[str, str]:
    """The ``@font-face`` rule embedding the CJK subset ``text`` needs (empty when it has no CJK) and the
    ``font-family`` list to use everywhere on the page."""
    woff, codepoints = cjk_subset(text)
    if not codepoints:
        return "", SYSTEM_FAMILIES
    data = base64.b64encode(woff).decode("ascii")
    css = (
        f"@font-face {{ font-family: '{FAMILY}'; font-style: normal; font-weight: 400; font-display: block; "
        f"src: url(data:font/woff;base64,{data}) format('woff'); "
        f"unicode-range: {_unicode_range(codepoints)}; }}"
    )
    return css, f"{SYSTEM_FAMILIES.removesuffix(', sans-serif')}, '{FAMILY}', sans-serif"
