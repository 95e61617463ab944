"""The EAN-13 check digit as GS1 defines it, and one wrong digit anywhere always caught."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.master_data import check_sheet, ean13_check_digit

HEADER = ["商品编码", "条码", "款号", "商品名称", "颜色", "尺码", "单价（元）"]


def barcode_problems(code: str) -> list[str]:
    return [p.code for p in check_sheet("skus", HEADER, [["S1", code, "S", "n", "红", "M", "1"]]).rows[0].problems]


def test_known_barcodes_have_their_published_check_digit():
    assert ean13_check_digit("690123456789") == 2  # 6901234567892
    assert ean13_check_digit("400638133393") == 1  # 4006381333931, GS1's own example
    assert barcode_problems("4006381333931") == []


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(0, 12), st.integers(1, 9))
def test_a_single_wrong_digit_is_always_refused(first12, position, shift):
    good = first12 + str(ean13_check_digit(first12))
    assert barcode_problems(good) == []
    bad = good[:position] + str((int(good[position]) + shift) % 10) + good[position + 1:]
    assert barcode_problems(bad) == ["IMPORT_BAD_EAN"]


@given(st.text(alphabet="0123456789", min_size=0, max_size=20).filter(lambda s: len(s) != 13))
def test_a_barcode_of_the_wrong_length_is_refused(code):
    assert barcode_problems(code) == (["IMPORT_CELL_MISSING"] if code == "" else ["IMPORT_BAD_EAN"])
