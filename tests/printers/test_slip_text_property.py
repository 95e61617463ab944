"""Any text a platform sends (rare hanzi, emoji, control bytes, full-width punctuation) prints safely."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printers.escpos_parse import parse
from printers.escpos_render import encode_text, render_escpos
from printers.layout import Text, display_width, lay_out
from printers.profiles import PROFILES

from .conftest import make_slip

# Characters from every neighbourhood a shop's product names and buyer notes come from.
ALPHABET = st.sampled_from(
    list("儿童加绒卫衣恐龙印花燕麦色，。：；（）【】！？、￥〇·—…①№ABCxyz0123456789-/ {}?")
    + ["䶮", "𠀀", "😀", "é", "\x1b", "\n", "\t", "\x00", "\u3000", "\uff5e", "€", "\u00a0"]
)
TEXT = st.text(ALPHABET, min_size=1, max_size=60)
ORDER_NO = st.text(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-"), min_size=6, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, note=TEXT, order_no=ORDER_NO, key=st.sampled_from(sorted(PROFILES)))
def test_every_row_prints_as_the_exact_text_or_as_raster_never_as_question_marks(name, note, order_no, key):
    p = PROFILES[key]
    slip = make_slip(2, name=name, order_no=order_no)
    slip = replace(slip, notes=(note,))
    layout = lay_out(slip, p)
    rows = [b for b in layout.blocks if isinstance(b, Text)]
    assert all(display_width(b.text) * 12 * b.scale < p.dots for b in rows)
    got = parse(render_escpos(layout))  # strict: a stray control byte would raise here
    as_text = [b.text for b in rows if encode_text(b.text, p) is not None]
    assert got.lines == as_text  # every text row arrives exactly, in order; the others went raster
    assert got.qr.count(slip.order_qr) == (len(layout.pages) if p.native_qr else 0)
    for line in got.lines:
        assert "\ufffd" not in line and "\x1b" not in line
    assert len(got.rasters) >= len(rows) - len(as_text)
