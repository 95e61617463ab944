"""Slip layout: profiles that know their width, text wrapped by display width, A5 that fits, pages."""

from __future__ import annotations

import pytest

from app.domain.errors import BusinessError
from printers.layout import Qr, Text, display_width, lay_out, wrap
from printers.profiles import PROFILES, PaperProfile, PrinterWidthUnknown, profile

from .conftest import make_slip

A5_HEIGHT_DOTS = int(210 / 25.4 * 203)  # 1678


def test_a_printer_profile_without_a_width_is_refused_with_a_business_message():
    unknown = PaperProfile("custom", "仓库二楼打印机", None)
    with pytest.raises(PrinterWidthUnknown) as refused:
        lay_out(make_slip(3), unknown)
    message = refused.value.message("zh")
    assert "仓库二楼打印机" in message and "没有设置纸宽" in message
    assert "58 毫米" in message  # tells what to choose instead
    assert "dots" not in message and "None" not in message
    assert "has no paper width" in refused.value.message("en")


def test_a_width_that_is_not_whole_bytes_or_an_unknown_profile_key_is_refused():
    with pytest.raises(PrinterWidthUnknown):
        profile("80mm", dots=570)
    with pytest.raises(BusinessError) as refused:
        profile("A4 wide")
    assert "没有名为「A4 wide」的纸张规格" in refused.value.message("zh")
    assert profile("80mm", dots=512).dots == 512  # an Epson 180-dpi head, measured and given


@pytest.mark.parametrize(("key", "dots", "font_a", "font_b"), [
    ("a5_6inch", 1152, 96, 128), ("4inch", 832, 69, 92), ("80mm", 576, 48, 64), ("58mm", 384, 32, 42),
])
def test_each_profile_states_its_dots_and_characters_per_line(key, dots, font_a, font_b):
    p = PROFILES[key]
    assert (p.dots, p.dpi, p.chars_font_a, p.chars_font_b) == (dots, 203, font_a, font_b)
    assert p.native_qr and p.native_code128 and p.gb18030_two_byte


def test_chinese_text_wraps_by_display_width_with_hanzi_as_two_columns():
    assert wrap("儿童加绒卫衣abc", 6) == ["儿童加", "绒卫衣", "abc"]
    assert wrap("SKU XSM-2600 袜子", 10) == ["SKU", "XSM-2600", "袜子"]  # codes are not cut
    assert wrap("燕麦色 / 110cm  SKU XSM-2600-110", 31) == ["燕麦色 / 110cm  SKU", "XSM-2600-110"]
    assert wrap("ABCDEFGHIJKL", 5) == ["ABCDE", "FGHIJ", "KL"]  # unless longer than a row
    assert display_width("×1，。") == 7


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_no_text_row_fills_the_whole_line(key):
    """A row exactly as wide as the paper prints, then the LF feeds an empty line on many printers."""
    p = PROFILES[key]
    layout = lay_out(make_slip(8, reprint=True, name="儿童加绒加厚连帽卫衣 恐龙印花 秋冬新款 男女童通用 宽松版型"), p)
    widths = [display_width(b.text) * 12 * b.scale for b in layout.blocks if isinstance(b, Text)]
    assert max(widths) < p.dots
    assert max(widths) >= p.dots - 24 * 2  # and the room is used


def test_a_typical_six_line_order_fits_one_a5_page_on_the_six_inch_printer():
    layout = lay_out(make_slip(6), PROFILES["a5_6inch"])
    assert len(layout.pages) == 1
    assert layout.page_height(0) <= A5_HEIGHT_DOTS
    # and so does the reprint, with its banner
    reprint = lay_out(make_slip(6, reprint=True), PROFILES["a5_6inch"])
    assert len(reprint.pages) == 1 and reprint.page_height(0) <= A5_HEIGHT_DOTS


def test_seven_and_eight_line_orders_still_fit_one_a5_page_with_compact_bin_rows():
    six = lay_out(make_slip(6), PROFILES["a5_6inch"])
    assert any(isinstance(b, Text) and b.scale == 2 and "A-01-01-1" in b.text for b in six.blocks)
    for n in (7, 8):
        layout = lay_out(make_slip(n), PROFILES["a5_6inch"])
        assert len(layout.pages) == 1 and layout.page_height(0) <= A5_HEIGHT_DOTS
        bin_row = next(b for b in layout.blocks if isinstance(b, Text) and "A-01-01-1" in b.text)
        assert bin_row.scale == 1 and bin_row.bold


def test_a_long_order_continues_on_further_a5_pages_each_marked_and_identified():
    slip = make_slip(15)
    layout = lay_out(slip, PROFILES["a5_6inch"])
    pages = len(layout.pages)
    assert pages >= 2
    for index, page in enumerate(layout.pages):
        assert layout.page_height(index) <= A5_HEIGHT_DOTS
        assert any(isinstance(b, Qr) and b.payload == slip.order_qr for b in page)
        last = page[-1]
        assert isinstance(last, Text) and last.text.startswith(f"第{index + 1}页/共{pages}页")
    texts = [b.text for b in layout.blocks if isinstance(b, Text)]
    for line in slip.lines:  # every item is somewhere, exactly once
        assert sum(line.bin_code in t for t in texts) == 1


def test_a_roll_profile_never_splits_a_slip_into_pages():
    assert len(lay_out(make_slip(15), PROFILES["80mm"]).pages) == 1


def test_items_are_laid_out_along_the_pick_path():
    slip = make_slip(7)
    texts = [b.text for b in lay_out(slip, PROFILES["80mm"]).blocks if isinstance(b, Text)]
    positions = [next(i for i, t in enumerate(texts) if line.bin_code in t) for line in slip.lines]
    by_path = [line.bin_code for _, line in sorted(zip(positions, slip.lines))]
    assert by_path == [line.bin_code for line in sorted(slip.lines, key=lambda l: l.pick_sequence)]
    assert by_path != [line.bin_code for line in slip.lines]  # the sample is not already in path order


def test_the_slip_carries_platform_priority_deadline_in_china_time_gifts_and_notes():
    slip = make_slip(4)
    texts = "\n".join(b.text for b in lay_out(slip, PROFILES["a5_6inch"]).blocks if isinstance(b, Text))
    assert "淘宝/天猫" in texts and "加急" in texts
    assert "最晚发货：11-25 18:00" in texts  # 10:00 UTC is 18:00 in China
    assert "满299送袜子 ×1" in texts and "请勿放干燥剂" in texts and "赠品多塞一双袜子" in texts
    assert "扫码查进度" in texts and "【赠品】" in texts
