"""A pick slip laid out once, as data: blocks with heights in printer dots, split into pages.

Both renderers (:mod:`printers.escpos_render` and :mod:`printers.preview`) walk the same
blocks, so the preview is what prints. Text sits on the printer's own character grid: font A
cells are 12 × 24 dots, ASCII takes one cell and every other character two (a printer in
two-byte Chinese mode prints every two-byte code full-width, punctuation such as ×·— included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import qrcode

from app.domain.clock import local
from app.domain.messages import render
from app.domain.slip import PickSlip, SlipLine
from printers.profiles import FONT_A, FONT_B, PaperProfile

Align = Literal["left", "center", "right"]
ROW_GAP = 6  # dots of line spacing under a text row (ESC 3 = cell height + gap)
QUIET_MODULES = 4  # QR quiet zone on every side, in modules (ISO/IEC 18004)


def columns(dots: int, scale: int = 1) -> int:
    """Cells a text row may use: one less than the line holds. A row that fills the line exactly
    makes many printers print it at once and then feed again at the LF (an empty line)."""
    return dots // (FONT_A[0] * scale) - 1


def char_cells(char: str) -> int:
    """Grid cells a character takes: 1 for printable ASCII, 2 for everything else."""
    return 1 if 0x20 <= ord(char) < 0x7F else 2


def display_width(text: str) -> int:
    return sum(char_cells(c) for c in text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean(text: str) -> str:
    """``text`` with control characters (line breaks, tabs, ESC…) as spaces: a byte 1B in a name
    must never reach the printer as a command."""
    return _CONTROL.sub(" ", text)


_TOKENS = re.compile(r"[!-~]+|.", re.S)  # a run of visible ASCII (SKU, size, number) or one character


def wrap(text: str, cols: int) -> list[str]:
    """``text`` cut into rows of at most ``cols`` cells, by display width (a hanzi is two cells).

    Hanzi break anywhere; an ASCII word (a SKU code, "110cm") moves to the next row whole
    unless it is longer than a row by itself.
    """
    cols = max(cols, 2)
    text = clean(text)
    rows: list[str] = []
    row, used = "", 0
    for token in _TOKENS.findall(text):
        w = display_width(token)
        if used + w > cols and row.strip():
            rows.append(row.rstrip())
            row, used = "", 0
            if token.isspace():
                continue
        while w > cols:  # a word longer than a row: break it by characters
            room = cols - used
            rows.append(row + token[:room])
            row, used, token = "", 0, token[room:]
            w = len(token)
        row += token
        used += w
    if row.strip() or not rows:
        rows.append(row.rstrip())
    return rows


@dataclass(frozen=True, slots=True)
class Text:
    """One row of text; ``scale`` magnifies width and height (GS !), ``invert`` is white on black."""

    text: str
    scale: int = 1
    bold: bool = False
    align: Align = "left"
    invert: bool = False

    @property
    def height(self) -> int:
        return FONT_A[1] * self.scale + ROW_GAP


@dataclass(frozen=True, slots=True)
class Qr:
    """A QR code (model 2, ECC M); ``height`` includes the 4-module quiet zone above and below."""

    payload: str
    module: int  # dots per module, 1–16

    @property
    def modules(self) -> int:
        return qr_modules(self.payload)

    @property
    def height(self) -> int:
        return (self.modules + 2 * QUIET_MODULES) * self.module


@dataclass(frozen=True, slots=True)
class Barcode:
    """A CODE128 barcode of ``payload`` with its human-readable line (font B) underneath."""

    payload: str
    module: int  # narrowest bar, dots (native: 2–6)
    bar_height: int

    @property
    def height(self) -> int:
        return self.bar_height + HRI_GAP + FONT_B[1] + BARCODE_FEED

    @property
    def code_set(self) -> str:
        """``C`` for four or more digits (two per symbol; an odd last digit switches to B), else ``B``."""
        p = self.payload
        return "C" if p.isascii() and p.isdigit() and len(p) >= 4 else "B"

    @property
    def modules(self) -> int:
        """Width in modules: start, data, check symbols of 11, stop of 13, 10 quiet each side."""
        p = self.payload
        symbols = len(p) // 2 + 2 * (len(p) % 2) if self.code_set == "C" else len(p)
        return 11 * (symbols + 2) + 13 + 20


HRI_GAP = 4
BARCODE_FEED = 6


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank paper, in dots."""

    dots: int

    @property
    def height(self) -> int:
        return self.dots


@dataclass(frozen=True, slots=True)
class Rule:
    """A dashed separator: ``RULE_PAD`` blank dots, a 2-dot line, ``RULE_PAD`` blank dots."""

    @property
    def height(self) -> int:
        return 2 * RULE_PAD + 2


RULE_PAD = 4
Block = Text | Qr | Barcode | Feed | Rule


@dataclass(frozen=True, slots=True)
class SlipLayout:
    """The slip for one profile: pages of blocks (continuous rolls have exactly one page)."""

    profile: PaperProfile
    pages: tuple[tuple[Block, ...], ...]
    order_no: str

    def page_height(self, index: int) -> int:
        """Height of page ``index`` in dots (the content; A5 pages are fed out to full length)."""
        return sum(b.height for b in self.pages[index])

    @property
    def blocks(self) -> tuple[Block, ...]:
        return tuple(b for page in self.pages for b in page)


@lru_cache(maxsize=4096)
def qr_modules(payload: str) -> int:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(payload.encode("utf-8"))
    return code.best_fit() * 4 + 17  # the version only: no mask search (that is the printer's job)


def _fmt_time(moment) -> str:
    return local(moment).strftime("%m-%d %H:%M") if moment else "—"


def _columns(left: str, right: str, cols: int, *, scale: int = 1, bold: bool = False) -> list[Text]:
    """Left text and right text on one row (right-aligned); when both do not fit, two rows."""
    left, right = clean(left), clean(right)
    gap = cols - display_width(left) - display_width(right)
    if gap >= 1:
        return [Text(left + " " * gap + right, scale, bold)]
    return [Text(r, scale, bold) for r in wrap(left, cols)] + [Text(right, scale, bold, "right")]


def _para(text: str, cols: int, **style) -> list[Text]:
    return [Text(r, **style) for r in wrap(text, cols)]


def _item(n: int, line: SlipLine, profile: PaperProfile, lang: str, compact: bool = False) -> list[Block]:
    dots = profile.checked_dots()
    wide = dots >= 832
    big = 2 if dots >= 576 and not compact else 1
    cols1, colsb = columns(dots), columns(dots, big)
    qty = render("SLIP_QTY", lang, quantity=line.quantity)
    gift = render("SLIP_GIFT_MARK", lang) if line.is_gift else ""
    spec = " / ".join(s for s in (line.color, line.size) if s)
    out: list[Block] = []
    if wide:
        out += _columns(f"{n}. {line.bin_code}  {line.bin_coords}", qty, colsb, scale=big, bold=True)
        out += _para(f"{gift}{line.name}　{spec}　SKU {line.sku_code}", cols1, bold=True)
    else:
        out += _columns(f"{n}. {line.bin_code}", qty, colsb, scale=big, bold=True)
        out += _para(line.bin_coords, cols1)
        out += _para(f"{gift}{line.name}", cols1, bold=True)
        sku = f"SKU {line.sku_code}"
        if display_width(f"{spec}  {sku}") <= cols1:
            out.append(Text(f"{spec}  {sku}"))
        else:  # keep "SKU" with its code: spec on one row, the code on the next
            out += _para(spec, cols1) + _para(sku, cols1)
    out.append(_barcode(line.barcode, dots, 40 if wide else 56))
    return out


def _barcode(payload: str, dots: int, bar_height: int) -> Barcode | Text:
    if not payload or not all(0x20 <= ord(c) < 0x7F for c in payload):
        # Not encodable as CODE128 B/C: print what it is rather than an unreadable barcode.
        return Text(payload)
    for module in (3, 2, 1):
        code = Barcode(payload, module, bar_height)
        if code.modules * module <= dots:
            return code
    return Barcode(payload, 1, bar_height)


def lay_out(slip: PickSlip, profile: PaperProfile, lang: str = "zh") -> SlipLayout:
    """Lay ``slip`` out for ``profile``: header, items along the pick path, gifts, notes, progress QR.

    On cut-sheet profiles (A5) the slip is split between items when it is taller than a page,
    every page repeating the order number and QR and saying 「第n页/共m页」.
    """
    dots = profile.checked_dots()
    cols1 = columns(dots)
    big = 2 if dots >= 576 else 1
    rule = Rule()
    module = 5 if dots >= 832 else 4 if dots >= 576 else 3

    header: list[Block] = []
    if slip.reprint:
        # White on black across the whole width: GS B reverses spaces too, so padding makes a band.
        scale = 3 if dots >= 576 else 2
        word = render("SLIP_REPRINT", lang)
        pad = max(0, (columns(dots, scale) - display_width(word)) // 2)
        header.append(Text(" " * pad + word + " " * pad, scale=scale, bold=True, align="center", invert=True))
        if slip.reprint_reason:
            header += _para(render("SLIP_REPRINT_REASON", lang, reason=slip.reprint_reason), cols1, align="center")
    title = render("SLIP_TITLE", lang)
    if dots >= 832:  # wide: title, order no. and priority share the big top row
        header += _columns(f"{title}  {slip.order_no}", slip.priority, columns(dots, 2), scale=2, bold=True)
        header.append(Qr(slip.order_qr, module))
    else:
        header += _columns(title, slip.priority, columns(dots, 2), scale=2, bold=True)
        header.append(Qr(slip.order_qr, module))
        header += _para(slip.order_no, columns(dots, big), scale=big, bold=True, align="center")
    header += _para(render("SLIP_PLATFORM", lang, platform=slip.platform, shop=slip.shop), cols1)
    ship_by = render("SLIP_SHIP_BY", lang, ship_by=_fmt_time(slip.ship_by))
    header += _para(ship_by, cols1, bold=True)  # the priority is already big in the title row
    if slip.wave_no or slip.picker or slip.printed_at:
        wave = render("SLIP_WAVE", lang, wave_no=slip.wave_no or "—", picker=slip.picker or "—")
        at = render("SLIP_PRINTED_AT", lang, at=_fmt_time(slip.printed_at)) if slip.printed_at else ""
        header += _columns(wave, at, cols1) if at else _para(wave, cols1)
    for label, value in slip.extra.items():
        header += _para(f"{label}：{value}", cols1)
    header += _para(render("SLIP_TOTAL", lang, lines=len(slip.lines), quantity=slip.total_quantity), cols1)
    header.append(rule)

    in_path_order = sorted(slip.lines, key=lambda l: (l.pick_sequence, l.bin_code))
    items = [_item(n, line, profile, lang) + [rule] for n, line in enumerate(in_path_order, 1)]
    limit = profile.page_height_dots
    if limit and sum(b.height for b in header + [b for i in items for b in i]) > limit * 0.85:
        # Nearly a page of items: bin rows in bold normal size instead of double (27 dots less
        # per item) keep 7–8 line orders on one A5 page; used only when it saves a page.
        compact = [_item(n, line, profile, lang, compact=True) + [rule] for n, line in enumerate(in_path_order, 1)]
        if _pages_needed(header, items, limit) > _pages_needed(header, compact, limit):
            items = compact

    footer: list[Block] = []
    sep = "；" if lang == "zh" else "; "
    if slip.gifts:
        footer += _para(f"{render('SLIP_GIFTS', lang)}：{sep.join(slip.gifts)}", cols1, bold=True)
    if slip.notes:
        footer += _para(f"{render('SLIP_NOTES', lang)}：{sep.join(slip.notes)}", cols1, bold=True)
    # Gifts and notes may end one page; the progress QR keeps its caption.
    chunks = items + [[row] for row in footer]
    chunks.append([Qr(slip.progress_qr, max(3, module - 1)), Text(render("SLIP_PROGRESS", lang), align="center")])
    return SlipLayout(profile, _paginate(slip, profile, header, chunks, lang), slip.order_no)


def _pages_needed(header: list[Block], items: list[list[Block]], limit: int) -> int:
    """Pages for header + items + a footer allowance (gifts, notes, progress QR: about 230 dots)."""
    total = sum(b.height for b in header) + sum(b.height for i in items for b in i) + 230
    return -(-total // limit)


def _paginate(slip, profile, header, chunks, lang) -> tuple[tuple[Block, ...], ...]:
    limit = profile.page_height_dots
    flat = header + [b for chunk in chunks for b in chunk]
    if limit is None or sum(b.height for b in flat) <= limit:
        return (tuple(flat),)
    cols1 = columns(profile.checked_dots())
    marker_height = Text("").height
    # Continuation pages repeat what identifies the order; the marker row is filled in below.
    cont = [b for b in header if isinstance(b, Qr) or (isinstance(b, Text) and b.invert)]
    cont += _para(slip.order_no, columns(profile.checked_dots(), 2), scale=2, bold=True, align="center")
    pages: list[list[Block]] = [list(header)]
    for chunk in chunks:
        used = sum(b.height for b in pages[-1])
        if used + sum(b.height for b in chunk) + marker_height > limit and len(pages[-1]) > len(cont):
            pages.append(list(cont))
        pages[-1] += chunk
    total = len(pages)
    out = []
    for i, page in enumerate(pages, 1):
        mark = render("SLIP_PAGE", lang, page=i, pages=total)
        if i < total:
            mark += render("SLIP_CONTINUED", lang)
        out.append(tuple(page) + (Text(mark[: cols1], bold=True, align="right"),))
    return tuple(out)
