"""Paper profiles: how wide a printer prints, in dots, and which ESC/POS features it really has.

A slip is laid out for a width in dots; guessing the width is how slips come out cut off or
shrunk (python-escpos's ``default`` profile has width ``Unknown``), so a profile without a width
is refused with a business-language error instead of printed on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from app.domain.errors import BusinessError

#: Which characters the printer's built-in Chinese font holds in two-byte mode. ``gbk`` is the
#: GB18030 two-byte area as printer fonts ship it (GBK/CP936: areas 1–5, ~21,000 hanzi);
#: ``gb2312`` is the small font of cheap 58 mm printers (6,763 hanzi, no 〇, no ·). Anything
#: else (CJK extension A/B, 4-byte GB18030) is printed as a raster image.
ChineseFont = Literal["gbk", "gb2312"]

DPI = 203
DOTS_PER_MM = DPI / 25.4
FONT_A = (12, 24)  # dots per half-width cell (w, h); a hanzi takes two cells: 24 × 24
FONT_B = (9, 17)


class PrinterWidthUnknown(BusinessError):
    """The printer's profile does not say how many dots a line has."""

    code = "PRINTER_WIDTH_UNKNOWN"


class PaperProfileUnknown(BusinessError):
    """A profile key that is not one of :data:`PROFILES`."""

    code = "PRINTER_PROFILE_UNKNOWN"


@dataclass(frozen=True, slots=True)
class PaperProfile:
    """One paper width and what the printer behind it can do natively."""

    key: str
    title: str  # business label shown in printer settings
    dots: int | None  # printable dots per line; None = not known → refused
    dpi: int = DPI
    native_qr: bool = True  # GS ( k, QR model 2
    native_code128: bool = True  # GS k m=73 (function B, length-prefixed)
    gb18030_two_byte: bool = True  # FS & two-byte Chinese mode with GB18030 two-byte codes
    chinese_font: ChineseFont = "gbk"
    page_height_mm: float | None = None  # cut-sheet length (A5: 210 mm); None = continuous roll

    @property
    def chars_font_a(self) -> int:
        """Half-width characters per line in font A (12 × 24 dots)."""
        return self.checked_dots() // FONT_A[0]

    @property
    def chars_font_b(self) -> int:
        """Half-width characters per line in font B (9 × 17 dots)."""
        return self.checked_dots() // FONT_B[0]

    @property
    def page_height_dots(self) -> int | None:
        return None if self.page_height_mm is None else int(self.page_height_mm * self.dpi / 25.4)

    @property
    def width_mm(self) -> float:
        return self.checked_dots() * 25.4 / self.dpi

    def checked_dots(self) -> int:
        """The width in dots, or :class:`PrinterWidthUnknown` when the profile has none.

        Raster rows are sent in whole bytes, so a width must be a multiple of 8 (RawBT notes:
        some printers wrap the dots past their maximum onto a new line).
        """
        if not self.dots or self.dots <= 0 or self.dots % 8:
            raise PrinterWidthUnknown(printer=self.title, choices=[p.title for p in PROFILES.values()])
        return self.dots

    def prints_natively(self, char: str) -> bool:
        """True when the printer's own font prints ``char`` (ASCII, or a two-byte hanzi it holds)."""
        code = ord(char)
        if 0x20 <= code < 0x7F:
            return True
        if not self.gb18030_two_byte:
            return False
        try:
            encoded = char.encode(self.chinese_font)
        except UnicodeEncodeError:
            return False
        # GBK and GB18030 agree on every two-byte code GBK has; checking both keeps out the
        # one-byte €(0x80 in CP936) and anything the printer would read as a 4-byte sequence.
        return len(encoded) == 2 and encoded == char.encode("gb18030")


PROFILES: dict[str, PaperProfile] = {
    p.key: p
    for p in (
        PaperProfile("a5_6inch", "6英寸宽幅（A5 拣货单，1152 点）", 1152, page_height_mm=210.0),
        PaperProfile("4inch", "4英寸（104 毫米，832 点）", 832),
        PaperProfile("80mm", "80 毫米（576 点）", 576),
        PaperProfile("58mm", "58 毫米（384 点）", 384),
        # Cheap 58 mm printers: GB2312 font only and no QR/CODE128 firmware; everything that
        # is not plain text goes as a raster image.
        PaperProfile(
            "58mm_basic", "58 毫米简易机（无二维码指令，384 点）", 384,
            native_qr=False, native_code128=False, chinese_font="gb2312",
        ),
    )
}


def profile(key: str, *, dots: int | None = None) -> PaperProfile:
    """The profile named ``key`` (optionally with a measured width), checked for a usable width."""
    try:
        found = PROFILES[key]
    except KeyError:
        raise PaperProfileUnknown(profile=key, choices=sorted(PROFILES)) from None
    if dots is not None:
        found = replace(found, dots=dots)
    found.checked_dots()
    return found
