"""Money as exact decimals: yuan strings and integer fen in, two-place Decimals out, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from app.domain.errors import InvalidValue

CENT = Decimal("0.01")


def yuan(value: str | int | Decimal) -> Decimal:
    """A yuan amount (``"299.00"``, ``299``, ``Decimal("299")``) as a two-place Decimal.

    Floats are refused: a float has already lost the cents a platform sent.

    Raises:
        InvalidValue: not a finite number, or a float.
    """
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidValue(field="金额", value=value, reason="金额不能用浮点数传递")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidValue(field="金额", value=value, reason="不是数字") from None
    if not amount.is_finite():
        raise InvalidValue(field="金额", value=value, reason="不是有限数")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fen(value: int | str) -> Decimal:
    """An integer fen amount (抖店, 拼多多 send ``29900``) as yuan, exactly."""
    if type(value) is int and -10**18 < value < 10**18:  # what platforms send: no text round trip
        return Decimal(value).scaleb(-2)  # the same Decimal as below, exponent -2 and all
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidValue(field="金额(分)", value=value, reason="金额不能用浮点数传递")
    try:
        cents = int(str(value).strip())
    except ValueError:
        raise InvalidValue(field="金额(分)", value=value, reason="不是整数分") from None
    return (Decimal(cents) / 100).quantize(CENT)


def to_fen(amount: Decimal) -> int:
    """Yuan back to integer fen."""
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def apportion(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` over lines in proportion to ``weights``, to the cent, summing exactly.

    Uses the largest-remainder method, the way platforms apportion order discounts over lines.
    Lines with zero weight (gifts) get zero. If all weights are zero the total goes evenly.

    Raises:
        InvalidValue: a negative weight.
    """
    if not weights:
        return []
    if any(w < 0 for w in weights):
        raise InvalidValue(field="分摊权重", value=weights, reason="不能为负数")
    total_fen = to_fen(total)
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    exact = [Decimal(total_fen) * w / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding="ROUND_FLOOR")) for e in exact]
    left = total_fen - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (exact[i] - floors[i], weights[i]), reverse=True)
    for i in order[:left]:
        floors[i] += 1
    return [(Decimal(f) / 100).quantize(CENT) for f in floors]
