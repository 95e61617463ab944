"""Both renderings of a slip read back: ESC/POS bytes parsed, preview images decoded by zxing-cpp."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp

from printers.escpos_parse import decode_code128, parse
from printers.escpos_render import CHINESE_MODE_ON, code128_data, render_escpos
from printers.layout import Barcode, Qr, Text, display_width, lay_out
from printers.preview import BUNDLED_FONT, block_image, font_for, glyph, render_pages, render_preview
from printers.profiles import PROFILES

from .conftest import make_slip

OUT = Path("/tmp/orderhub-slips")


def decoded(image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def expected_codes(slip) -> set[str]:
    return {slip.order_qr, slip.progress_qr, *(line.barcode for line in slip.lines)}


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_the_escpos_stream_reads_back_to_the_intended_text_qr_codes_and_barcodes(key):
    p = PROFILES[key]
    slip = make_slip(6)
    stream = render_escpos(lay_out(slip, p))
    got = parse(stream)
    assert stream.startswith(b"\x1b@") and CHINESE_MODE_ON in stream[:8]
    text = "\n".join(got.lines)
    for must in (slip.order_no, "淘宝/天猫", "加急", "最晚发货：11-25 18:00", "请勿放干燥剂", "扫码查进度"):
        assert must in text
    for line in slip.lines:
        assert line.bin_code in text and line.sku_code in text
        assert line.name[:5] in text
    assert "?" not in text and "\ufffd" not in text
    in_pick_order = [line.barcode for line in sorted(slip.lines, key=lambda l: l.pick_sequence)]
    if p.native_qr:
        assert got.qr == [slip.order_qr, slip.progress_qr] and got.qr_printed == 2
    if p.native_code128:
        assert got.barcodes == in_pick_order
    # Whatever went as raster must decode to the rest.
    from_rasters = [code for img in got.rasters for code in decoded(img)]
    assert sorted(got.qr + got.barcodes + from_rasters) == sorted([slip.order_qr, slip.progress_qr, *in_pick_order])
    assert got.cuts == 1


def test_the_raster_only_profile_sends_qr_codes_and_barcodes_as_images_that_decode():
    slip = make_slip(5)
    got = parse(render_escpos(lay_out(slip, PROFILES["58mm_basic"])))
    assert got.qr == [] and got.barcodes == []
    assert sorted(c for img in got.rasters for c in decoded(img)) == sorted(expected_codes(slip))


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_the_preview_decodes_to_the_order_qr_the_progress_qr_and_every_sku_barcode(key):
    slip = make_slip(6, reprint=key == "a5_6inch")
    layout = lay_out(slip, PROFILES[key])
    image = render_preview(layout)
    OUT.mkdir(exist_ok=True)
    image.save(OUT / f"{key}.png")
    assert image.width == PROFILES[key].dots
    assert set(decoded(image)) == expected_codes(slip)


def test_a_long_a5_slip_prints_one_cut_page_per_layout_page_each_with_the_order_qr():
    slip = make_slip(15)
    layout = lay_out(slip, PROFILES["a5_6inch"])
    got = parse(render_escpos(layout))
    assert got.cuts == len(layout.pages) >= 2
    assert got.qr.count(slip.order_qr) == len(layout.pages)
    n = len(layout.pages)
    assert [t for t in got.lines if "页/共" in t] == [
        f"第{i}页/共{n}页" + ("（接下页）" if i < n else "") for i in range(1, n + 1)]
    pages = render_pages(layout)
    assert all(page.height == PROFILES["a5_6inch"].page_height_dots for page in pages)
    render_preview(layout).save(OUT / "a5_6inch-long.png")
    assert set(c for page in pages for c in decoded(page)) == expected_codes(slip)


@pytest.mark.parametrize("rare", ["䶮", "𠀀"])
def test_a_character_the_printer_font_lacks_goes_raster_and_never_prints_as_a_question_mark(rare):
    p = PROFILES["80mm"]
    assert not p.prints_natively(rare)  # 䶮 is two-byte GB18030 (FE9F) but not in a GBK printer font
    slip = make_slip(3, name=f"刘{rare}同款 汉服外套")
    layout = lay_out(slip, p)
    row = next(b for b in layout.blocks if isinstance(b, Text) and rare in b.text)
    stream = render_escpos(layout)
    got = parse(stream)
    assert not any(rare in line or "?" in line or "\ufffd" in line for line in got.lines)
    assert rare.encode("gb18030") not in stream
    # The row went as one raster image, dot for dot what the preview shows.
    expected = block_image(row, p.dots).point(lambda v: 0 if v < 128 else 255)
    assert any(img.size == expected.size and img.tobytes() == expected.tobytes() for img in got.rasters)
    # Only that row left the text path; every other row is still plain text.
    assert not any("汉服外套" in line for line in got.lines)
    assert any("XSM-2600" in line for line in got.lines)


@pytest.mark.parametrize("char", ["䶮", "𬭚", "𫖯", "堃", "喆"])
def test_rare_name_characters_are_drawn_from_the_bundled_font_on_any_machine(char):
    """Extension A (刘䶮) and the 通用规范汉字表's rare name characters are in the font OrderHub ships."""
    assert font_for(char) == str(BUNDLED_FONT)
    drawn = glyph(char, (12, 24), 1, False)
    assert drawn.getextrema()[0] == 0  # ink
    assert drawn.tobytes() != glyph("𠀀", (12, 24), 1, False).tobytes()  # not the missing box


def test_a_character_the_bundled_font_lacks_is_an_empty_box_never_a_look_alike():
    """𠀀 (extension B) is not in Noto Sans CJK SC: a visible box, whatever fonts the machine has."""
    assert font_for("𠀀") is None
    box = glyph("𠀀", (12, 24), 1, False)
    assert box.getpixel((2, 12)) == 0 and box.getpixel((12, 12)) == 255


def test_a_gb2312_only_printer_gets_rarer_hanzi_and_punctuation_as_raster():
    basic, full = PROFILES["58mm_basic"], PROFILES["58mm"]
    for char in "〇·镕":
        assert full.prints_natively(char) and not basic.prints_natively(char)
    assert basic.prints_natively("拣") and basic.prints_natively("，")


def test_code128_uses_code_set_c_for_digits_and_b_otherwise_with_literal_braces_doubled():
    assert code128_data("69001234", "C") == "{C" + "".join(map(chr, (69, 0, 12, 34)))
    assert code128_data("6900123", "C") == "{C" + "".join(map(chr, (69, 0, 12))) + "{B3"
    assert code128_data("AB{1", "B") == "{BAB{{1"
    for payload, code_set in (("69001234", "C"), ("6900123", "C"), ("AB{1", "B"), ("XSM-26", "B")):
        assert decode_code128(code128_data(payload, code_set).encode("latin-1")) == payload
        assert Barcode(payload, 2, 40).code_set == code_set


def test_a_brace_in_a_sku_barcode_survives_printing_and_preview():
    from dataclasses import replace
    slip = make_slip(2)
    slip = replace(slip, lines=(replace(slip.lines[0], barcode="KID{7}"), slip.lines[1]))
    layout = lay_out(slip, PROFILES["80mm"])
    assert "KID{7}" in parse(render_escpos(layout)).barcodes
    assert "KID{7}" in decoded(render_preview(layout))


def test_native_qr_codes_get_a_four_module_quiet_zone_above_and_below():
    layout = lay_out(make_slip(2), PROFILES["80mm"])
    qr = next(b for b in layout.blocks if isinstance(b, Qr))
    stream = render_escpos(layout)
    store = stream.index(b"\x1d(k")
    feed = bytes((0x1B, 0x4A, 4 * qr.module))  # ESC J n
    assert stream[store - 3:store] == feed
    print_cmd = b"\x1d(k\x03\x001Q0"
    after = stream.index(print_cmd) + len(print_cmd)
    assert stream[after:after + 3] == feed
    img = block_image(qr, 576)
    margin = 4 * qr.module
    assert img.crop((0, 0, 576, margin)).getextrema() == (255, 255)
    assert img.crop((0, img.height - margin, 576, img.height)).getextrema() == (255, 255)


def test_a_reprint_says_buda_prominently_first_in_reverse_print():
    slip = make_slip(3, reprint=True)
    layout = lay_out(slip, PROFILES["80mm"])
    banner = layout.blocks[0]
    assert isinstance(banner, Text) and banner.text.strip() == "补打" and banner.invert and banner.scale == 3
    assert display_width(banner.text) * 12 * 3 >= 576 - 3 * 36  # a band across the slip
    stream = render_escpos(layout)
    assert [line.strip() for line in parse(stream).lines[:2]] == ["补打", "补打原因：原单卡纸"]
    assert stream.index(b"\x1dB\x01") < stream.index("补打".encode("gb18030"))
    img = block_image(banner, 576)
    assert img.getpixel((60, 5)) == 0 and img.getpixel((516, 5)) == 0  # black band edge to edge


def test_a_printer_without_chinese_mode_gets_every_chinese_row_as_raster_and_no_fs_ampersand():
    from printers.profiles import PaperProfile
    western = PaperProfile("80mm_latin", "80 毫米（无中文字库）", 576, gb18030_two_byte=False)
    slip = make_slip(2)
    layout = lay_out(slip, western)
    stream = render_escpos(layout)
    got = parse(stream)
    assert CHINESE_MODE_ON not in stream[:16] and not got.chinese_mode
    assert all(line.isascii() for line in got.lines)
    assert got.lines == [b.text for b in layout.blocks if isinstance(b, Text) and b.text.isascii()]
    assert slip.order_no in got.lines
    assert sorted(got.barcodes) == sorted(line.barcode for line in slip.lines)  # codes stay native
    chinese_rows = [b for b in layout.blocks if isinstance(b, Text) and not b.text.isascii()]
    assert len(got.rasters) >= len(chinese_rows) > 5
    assert set(decoded(render_preview(layout))) == expected_codes(slip)


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_the_rule_made_once_per_paper_is_the_rule_painted_afresh(key):
    from printers import escpos_render
    from printers.layout import RULE_PAD, Rule

    p = PROFILES[key]
    painted = escpos_render._Printer(p)  # noqa: SLF001 - the painter the cache stands for
    painted.style["align"] = "left"
    painted.raster(block_image(Rule(), p.dots).crop((0, RULE_PAD, p.dots, RULE_PAD + 2)))
    escpos_render._rule_bytes.cache_clear()  # noqa: SLF001
    first = render_escpos(lay_out(make_slip(), p))
    assert escpos_render._rule_bytes(p) == painted.output  # noqa: SLF001
    assert render_escpos(lay_out(make_slip(), p)) == first  # the cached rule prints the same slip
    assert first.count(painted.output) >= 2  # the slip's separators are that raster
