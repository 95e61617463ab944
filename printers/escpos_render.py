"""A slip layout as the ESC/POS bytes a thermal printer receives.

Built on python-escpos's :class:`~escpos.printer.Dummy` (it collects bytes): its style commands
(``set``), native QR (``qr(native=True)``: GS ( k fn 65/67/69/80/81 byte-exact), hardware
barcode (``_hw_barcode``, function B with the length byte), raster images (``image`` with
``bitImageRaster``: GS v 0, fragments over 960 rows) and cut are right, so they are used as they
are. Its text path is not, for Chinese (platform-protocols.md §2.7.2, issues #269/#281/#190/#491):
``MagicEncode`` only switches to GB18030 when a character in U+4E00–U+9FA5 is present, so a row
of Chinese punctuation or full-width digits goes through the code-page search and prints as '?';
it encodes extension characters to 4-byte GB18030 that printers print as garbage; and it never
sends FS &. So text here is encoded by hand: FS & once, then ASCII as is and every other
character as its two-byte GB18030 code — and a row holding any character the printer's font
does not have (:meth:`PaperProfile.prints_natively`) is painted with the preview's painter and
sent as a raster row, so nothing prints as '?'.
"""

from __future__ import annotations

from functools import lru_cache

from escpos.constants import ESC, FS, HW_INIT, QR_ECLEVEL_M
from escpos.printer import Dummy
from PIL import Image

from printers.layout import BARCODE_FEED, RULE_PAD, Barcode, Block, Feed, Qr, Rule, SlipLayout, Text
from printers.preview import block_image
from printers.profiles import PaperProfile

CHINESE_MODE_ON = FS + b"&"  # FS &: two-byte (GB18030 areas 1–5 on Chinese firmware) character mode
INTERNATIONAL_USA = ESC + b"R\x00"  # ESC R 0: the China set (15) would print 0x24 '$' as '¥'


class _Printer(Dummy):
    """python-escpos's byte collector with the paper width it needs for ``image`` (never 'Unknown')."""

    def __init__(self, profile: PaperProfile) -> None:
        super().__init__()
        data = dict(self.profile.profile_data)
        data["media"] = {"dpi": profile.dpi, "width": {"mm": round(profile.width_mm, 1), "pixels": profile.dots}}
        self.profile.profile_data = data  # on the instance: the class-level dict is shared
        self.style: dict[str, object] = {}

    def style_to(self, **wanted: object) -> None:
        """Send only the style commands that change something (keeps a 500-slip wave small)."""
        changed = {k: v for k, v in wanted.items() if self.style.get(k) != v}
        if not changed:
            return
        if "scale" in changed:
            scale = int(wanted["scale"])  # type: ignore[arg-type]
            self.set(custom_size=True, width=scale, height=scale)
        if "spacing" in changed:
            self._raw(ESC + b"3" + bytes((int(wanted["spacing"]),)))  # type: ignore[arg-type]
        self.set(**{k: v for k, v in changed.items() if k in ("align", "bold", "invert")})
        self.style.update(changed)

    def feed(self, dots: int) -> None:
        while dots > 0:
            self._raw(ESC + b"J" + bytes((min(dots, 255),)))  # ESC J n: feed n dots, no line spacing
            dots -= 255

    def raster(self, img: Image.Image) -> None:
        """Send ``img`` (0 = black) as GS v 0, thresholded so text edges do not dither into noise."""
        self.style_to(align="left")
        self.image(img.point(lambda v: 0 if v < 128 else 255).convert("1"), impl="bitImageRaster")

    def rule(self, profile: PaperProfile) -> None:
        """The dashed separator: the same raster on every slip of a paper, so its bytes are made once."""
        self.style_to(align="left")
        self._raw(_rule_bytes(profile))


@lru_cache(maxsize=16)
def _rule_bytes(profile: PaperProfile) -> bytes:
    """GS v 0 of the rule's 2-dot line for ``profile``'s width (painted, thresholded and packed once)."""
    width = profile.checked_dots()
    scratch = _Printer(profile)
    scratch.style["align"] = "left"  # only the image's own bytes
    scratch.raster(block_image(Rule(), width).crop((0, RULE_PAD, width, RULE_PAD + 2)))
    return scratch.output


def encode_text(text: str, profile: PaperProfile) -> bytes | None:
    """The bytes for ``text`` in two-byte Chinese mode, or None when the printer's font lacks a character."""
    if not all(profile.prints_natively(c) for c in text):
        return None
    return text.encode("gb18030")  # ASCII stays one byte; every other checked character is two bytes


def code128_data(payload: str, code_set: str) -> str:
    """The GS k m=73 data: the code-set prefix, then the payload (code set C packs digit pairs)."""
    if code_set == "C":
        even = len(payload) - len(payload) % 2
        packed = "".join(chr(int(payload[i:i + 2])) for i in range(0, even, 2))
        return "{C" + packed + ("{B" + payload[even:] if even < len(payload) else "")
    return "{B" + payload.replace("{", "{{")  # '{' is the escape character: a literal one is doubled


def _emit(p: _Printer, block: Block, profile: PaperProfile) -> None:
    width = profile.checked_dots()
    if isinstance(block, Text):
        data = encode_text(block.text, profile)
        if data is None:
            p.raster(block_image(block, width))
            return
        p.style_to(align=block.align, bold=block.bold, invert=block.invert, scale=block.scale,
                   spacing=block.height)
        p._raw(data + b"\n")
    elif isinstance(block, Qr):
        if not profile.native_qr:
            p.raster(block_image(block, width))
            return
        # python-escpos stores the payload as UTF-8 (byte mode), which phone and station scanners read;
        # keep payloads that HID scanners must type back ASCII (order no., picker id).
        # The printer draws no quiet zone: 4 modules of paper above and below, and centring
        # leaves far more than 4 modules either side on every profile.
        quiet = 4 * block.module
        p.style_to(align="center")
        p.feed(quiet)
        p.qr(block.payload, ec=QR_ECLEVEL_M, size=block.module, native=True)
        p.feed(quiet)
    elif isinstance(block, Barcode):
        if not profile.native_code128 or block.module < 2:
            p.raster(block_image(block, width))
            return
        p.style_to(align="center")
        p._hw_barcode(code128_data(block.payload, block.code_set), "CODE128", height=block.bar_height,
                      width=block.module, pos="BELOW", font="B", align_ct=False, function_type="B")
        p.feed(BARCODE_FEED)
    elif isinstance(block, Rule):
        p.feed(RULE_PAD)
        p.rule(profile)
        p.feed(RULE_PAD)
    elif isinstance(block, Feed):
        p.feed(block.dots)
    else:
        raise TypeError(block)


def render_escpos(layout: SlipLayout, *, cut: bool = True) -> bytes:
    """The whole slip as ESC/POS bytes: init, Chinese mode, every page, fed to A5 length and cut."""
    profile = layout.profile
    p = _Printer(profile)
    p._raw(HW_INIT + INTERNATIONAL_USA)
    if profile.gb18030_two_byte:
        p._raw(CHINESE_MODE_ON)
    page_height = profile.page_height_dots
    for index, blocks in enumerate(layout.pages):
        for block in blocks:
            _emit(p, block, profile)
        if page_height:
            p.feed(page_height - layout.page_height(index))
        if cut:
            p.cut(mode="PART", feed=False)  # GS V 66 0: feed to the cutter, then cut
    return p.output


__all__ = ["render_escpos", "encode_text", "code128_data", "CHINESE_MODE_ON"]
