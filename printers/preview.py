"""The on-screen preview of a slip: the same layout as the printer, 1 dot = 1 pixel.

Text is painted on the printer's character grid (12 × 24-dot cells, ×scale), QR codes and
barcodes are real symbols at the printer's module size, so a preview decodes like the paper.
The ESC/POS renderer uses :func:`block_image` for everything it has to send as raster.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import barcode as python_barcode
import qrcode
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from printers.layout import (
    BARCODE_FEED, HRI_GAP, QUIET_MODULES, ROW_GAP, RULE_PAD, Barcode, Block, Feed, Qr, Rule, SlipLayout, Text,
    char_cells,
)
from printers.profiles import FONT_A, FONT_B

REPO = Path(__file__).resolve().parents[1]
BUNDLED_FONT = REPO / "resources" / "fonts" / "OrderHubSans-Regular.otf"
# Slips are drawn only with the bundled font (every CJK ideograph Noto Sans CJK SC has, extension A
# and the 通用规范汉字表's rare characters included; see installer/make_cjk_font.py), never with
# whatever the station's system happens to have, so a slip and its preview look the same on every
# station. A character the font lacks (𠀀) is drawn as an empty box — visibly missing, never a '?'
# that reads like a real character.
WHITE, BLACK = 255, 0


@lru_cache(maxsize=1)
def _code_points(path: str) -> frozenset[int]:
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


def font_for(char: str) -> str | None:
    """Path of the bundled font when it has ``char``, else None (the glyph is then drawn as a box)."""
    path = str(BUNDLED_FONT)
    return path if ord(char) in _code_points(path) else None


@lru_cache(maxsize=64)
def _font(path: str, px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, px)


@lru_cache(maxsize=8192)
def glyph(char: str, cell: tuple[int, int], scale: int, bold: bool) -> Image.Image:
    """``char`` painted black-on-white into its grid cell(s), squeezed to fit like the printer's font."""
    w = cell[0] * scale * char_cells(char)
    h = cell[1] * scale
    img = Image.new("L", (w, h), WHITE)
    if char == " ":
        return img
    path = font_for(char)
    draw = ImageDraw.Draw(img)
    if path is None:
        draw.rectangle((2, 2, w - 3, h - 3), outline=BLACK, width=max(1, scale))
        return img
    # The em box of a CJK face spans 0.88 em above the baseline and 0.12 em below it: put it in
    # the cell like a printer's 24 × 24 hanzi, with ASCII on the same baseline.
    size = int(h * 0.92)
    font = _font(path, size)
    baseline = (h - size) // 2 + int(size * 0.88)
    left, _, right, _ = draw.textbbox((0, baseline), char, font=font, anchor="ls")
    gw = right - left
    # Emphasis as the printer does it: every dot doubled one dot to the right.
    offsets = (0, 1) if bold else (0,)
    if gw + len(offsets) - 1 > w:  # a proportional glyph wider than its fixed cell (W, M): squeeze it
        tmp = Image.new("L", (gw + len(offsets), h), WHITE)
        for dx in offsets:
            ImageDraw.Draw(tmp).text((dx - left, baseline), char, font=font, fill=BLACK, anchor="ls")
        return tmp.resize((w, h))
    x = (w - gw - len(offsets) + 1) // 2 - left
    for dx in offsets:
        draw.text((x + dx, baseline), char, font=font, fill=BLACK, anchor="ls")
    return img


def paint_text(text: str, width: int, *, scale: int = 1, bold: bool = False, align: str = "left",
               invert: bool = False, cell: tuple[int, int] = FONT_A, gap: int = ROW_GAP) -> Image.Image:
    """One text row ``width`` dots wide, characters on the grid, aligned like ESC a."""
    h = cell[1] * scale
    img = Image.new("L", (width, h + gap), WHITE)
    used = sum(char_cells(c) for c in text) * cell[0] * scale
    x = {"left": 0, "center": (width - used) // 2, "right": width - used}[align]
    x = max(0, x)
    for char in text:
        g = glyph(char, cell, scale, bold)
        if x + g.width > width:
            break
        img.paste(g, (x, 0))
        x += g.width
    if invert:
        # GS B reverses the characters' cells only, as the printer does.
        start = {"left": 0, "center": (width - used) // 2, "right": width - used}[align]
        box = (max(0, start), 0, min(width, start + used), h)
        img.paste(Image.eval(img.crop(box), lambda v: 255 - v), box[:2])
    return img


def qr_image(payload: str, module: int) -> Image.Image:
    """The QR symbol (model 2, ECC M) with its 4-module quiet zone, ``module`` dots per module."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module, border=QUIET_MODULES)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def barcode_image(block: Barcode, width: int) -> Image.Image:
    """CODE128 bars (python-barcode's encoding) at exactly ``block.module`` dots, HRI in font B below."""
    modules = python_barcode.get("code128", block.payload).build()[0]
    bars_w = len(modules) * block.module
    img = Image.new("L", (width, block.height), WHITE)
    draw = ImageDraw.Draw(img)
    x0 = max(0, (width - bars_w) // 2)
    for i, bit in enumerate(modules):
        if bit == "1":
            x = x0 + i * block.module
            draw.rectangle((x, 0, x + block.module - 1, block.bar_height - 1), fill=BLACK)
    hri = paint_text(block.payload, width, align="center", cell=FONT_B, gap=0)
    img.paste(hri, (0, block.bar_height + HRI_GAP))
    return img


def block_image(block: Block, width: int) -> Image.Image:
    """One layout block as a ``width``-dot wide grey image (0 = black), exactly ``block.height`` tall."""
    if isinstance(block, Text):
        return paint_text(block.text, width, scale=block.scale, bold=block.bold, align=block.align,
                          invert=block.invert)
    if isinstance(block, Qr):
        img = Image.new("L", (width, block.height), WHITE)
        symbol = qr_image(block.payload, block.module)
        img.paste(symbol, ((width - symbol.width) // 2, 0))
        return img
    if isinstance(block, Barcode):
        return barcode_image(block, width)
    if isinstance(block, Feed):
        return Image.new("L", (width, block.dots), WHITE)
    if isinstance(block, Rule):
        img = Image.new("L", (width, block.height), WHITE)
        draw = ImageDraw.Draw(img)
        for x in range(0, width, 12):
            draw.rectangle((x, RULE_PAD, x + 7, RULE_PAD + 1), fill=BLACK)
        return img
    raise TypeError(block)


def render_pages(layout: SlipLayout) -> list[Image.Image]:
    """Each page as an image; A5 pages are full page length, roll slips as long as their content."""
    width = layout.profile.checked_dots()
    pages = []
    for i, blocks in enumerate(layout.pages):
        content = layout.page_height(i)
        height = max(content, layout.profile.page_height_dots or 0)
        page = Image.new("L", (width, height), WHITE)
        y = 0
        for block in blocks:
            page.paste(block_image(block, width), (0, y))
            y += block.height
        pages.append(page)
    return pages


def render_preview(layout: SlipLayout, gap: int = 24) -> Image.Image:
    """All pages one under the other (a grey band between pages), for the screen or a PNG."""
    pages = render_pages(layout)
    width = pages[0].width
    out = Image.new("L", (width, sum(p.height for p in pages) + gap * (len(pages) - 1)), 160)
    y = 0
    for page in pages:
        out.paste(page, (0, y))
        y += page.height + gap
    return out


__all__ = ["block_image", "render_pages", "render_preview", "paint_text", "qr_image", "barcode_image",
           "font_for", "BARCODE_FEED"]
