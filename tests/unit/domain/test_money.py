"""Money stays exact: yuan strings and fen integers in, Decimals out, apportioning sums to the cent."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import InvalidValue
from app.domain.money import apportion, fen, to_fen, yuan


@pytest.mark.parametrize(("raw", "expected"), [("299.00", "299.00"), ("0.1", "0.10"), (299, "299.00"),
                                               ("1,299.5", "1299.50"), (" 12.345 ", "12.35")])
def test_yuan_strings_become_two_place_decimals(raw, expected):
    assert yuan(raw) == Decimal(expected)
    assert str(yuan(raw)) == expected


def test_a_float_amount_is_refused_because_it_has_already_lost_cents():
    with pytest.raises(InvalidValue):
        yuan(0.1)


@pytest.mark.parametrize("raw", ["abc", "", "NaN", "Infinity"])
def test_a_non_number_is_refused_with_a_business_message(raw):
    with pytest.raises(InvalidValue) as caught:
        yuan(raw)
    assert "金额" in caught.value.message("zh")


@given(st.integers(min_value=0, max_value=10**12))
def test_fen_and_yuan_round_trip_exactly(cents):
    assert to_fen(fen(cents)) == cents


@given(
    st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c) / 100),
    st.lists(st.integers(min_value=0, max_value=10**6).map(Decimal), min_size=1, max_size=12),
)
def test_apportioned_shares_always_add_up_to_the_total(total, weights):
    shares = apportion(total, weights)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    if any(weights):
        assert all(s == 0 for s, w in zip(shares, weights, strict=True) if w == 0)


def test_apportioning_a_discount_follows_the_line_values():
    assert apportion(Decimal("269.00"), [Decimal("129"), Decimal("149"), Decimal("0")]) == [
        Decimal("124.82"), Decimal("144.18"), Decimal("0.00")]  # 12482.37 / 14417.63 fen: the .63 gets the cent


@pytest.mark.parametrize("value", [0, 1, 5, 99, 100, 29900, -5, -12345, 10**18 - 1, -(10**18 - 1), 10**18, 10**25])
def test_fen_of_an_int_is_the_same_decimal_as_of_its_text(value: int) -> None:
    by_int, by_text = fen(value), fen(str(value))
    assert by_int == by_text and by_int.as_tuple() == by_text.as_tuple()  # value and exponent (two places)
