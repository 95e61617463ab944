"""Regenerates resources/fonts/OrderHubSans-*.otf: a subset of Noto Sans CJK SC (SIL OFL 1.1).

Why a subset: a fresh Linux machine has no CJK font, so Qt draws boxes and Pillow cannot draw
Chinese at all. The full Noto Sans CJK collection is 56 MB; the subset keeps every CJK ideograph
the SC face has — the URO (U+4E00–U+9FFF), all of extension A (U+3400–U+4DBF, required by GB 18030
and met in names: 刘䶮) and the 2,361 extension B–F characters it draws (among them the
通用规范汉字表's rare name and place characters: 𬭚 𬘡 𫖯), compatibility ideographs and radicals —
plus ASCII, Latin-1, general and CJK punctuation, full-width forms and box drawing. A character the
face lacks (𠀀) is drawn as an empty box on screen and on slips: visibly missing, never a look-alike.
The product never reads system fonts, so a slip looks the same on every station.

Usage (needs Debian's fonts-noto-cjk and pip's fonttools):
    python installer/make_cjk_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc Regular
    python installer/make_cjk_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc Bold
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

RANGES = [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x2190, 0x21FF), (0x2460, 0x24FF), (0x2500, 0x257F),
          (0x25A0, 0x25FF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF), (0x00D7, 0x00D7),
          (0x2103, 0x2103), (0x2116, 0x2116), (0x2122, 0x2122), (0xFE30, 0xFE4F),
          # CJK radicals, strokes, extension A, compatibility ideographs, extensions B–F (where the face has them)
          (0x2E80, 0x2FDF), (0x31C0, 0x31EF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF)]
SC_INDEX = 2  # "Noto Sans CJK SC" in Noto's collection


def main(source: str, style: str) -> None:
    font = TTCollection(source).fonts[SC_INDEX]
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False  # screens and 203-dpi printers do not need TrueType hinting; halves the size
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[cp for lo, hi in RANGES for cp in range(lo, hi + 1)])
    subsetter.subset(font)
    for record in font["name"].names:  # the OFL asks a modified font not to use the reserved name
        if record.nameID in (1, 3, 4, 6, 16):
            text = record.toUnicode().replace("Noto Sans CJK SC", "OrderHub Sans").replace("NotoSansCJKsc", "OrderHubSans")
            record.string = text
    out = Path(__file__).resolve().parents[1] / "resources" / "fonts" / f"OrderHubSans-{style}.otf"
    font.save(out)
    print(out, out.stat().st_size)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
