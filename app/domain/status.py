"""The order status machine (订单当前所处环节): stages and allowed transitions, as data, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import IllegalTransition
from app.domain.messages import Coded


class OrderStatus(StrEnum):
    """The stages an order passes through; values are what the database stores."""

    PENDING_PAYMENT = "pending_payment"  # 待支付
    PAID = "paid"  # 已支付
    ALLOCATING = "allocating"  # 配货中
    PARTIALLY_SHIPPED = "partially_shipped"  # 部分发货: some parcels left, the rest is still the warehouse's
    SHIPPED = "shipped"  # 已发货
    COMPLETED = "completed"  # 已完成
    CANCELLED = "cancelled"  # 已取消
    AFTER_SALES = "after_sales"  # 售后中


S = OrderStatus


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move between stages.

    Attributes:
        source: the stage the order is in.
        target: the stage it may move to.
        needs_basis: the move is a key change that must name an operator and a basis.
        intercept: the warehouse has started work, so the move must reach the picker as an
            interception, not silently.
    """

    source: OrderStatus
    target: OrderStatus
    needs_basis: bool = False
    intercept: bool = False


# The whole machine. Cancellation is always a key change (it needs a basis); a cancellation
# after picking started is an interception. 售后中 can end by going back to where the parcel
# is (shipped / completed), or in a full refund (cancelled).
TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.PENDING_PAYMENT, S.PAID),
    Transition(S.PENDING_PAYMENT, S.CANCELLED, needs_basis=True),
    Transition(S.PAID, S.ALLOCATING),
    Transition(S.PAID, S.CANCELLED, needs_basis=True),
    Transition(S.PAID, S.AFTER_SALES, needs_basis=True),
    Transition(S.ALLOCATING, S.SHIPPED),
    Transition(S.ALLOCATING, S.PAID),  # released back, e.g. stock re-allocated
    Transition(S.ALLOCATING, S.CANCELLED, needs_basis=True, intercept=True),
    Transition(S.ALLOCATING, S.AFTER_SALES, needs_basis=True, intercept=True),
    Transition(S.ALLOCATING, S.PARTIALLY_SHIPPED),  # a split parcel left (the rest follows)
    Transition(S.PARTIALLY_SHIPPED, S.SHIPPED),  # the last parcel left
    Transition(S.PARTIALLY_SHIPPED, S.CANCELLED, needs_basis=True, intercept=True),
    Transition(S.PARTIALLY_SHIPPED, S.AFTER_SALES, needs_basis=True, intercept=True),
    Transition(S.SHIPPED, S.COMPLETED),
    Transition(S.SHIPPED, S.AFTER_SALES, needs_basis=True),
    Transition(S.COMPLETED, S.AFTER_SALES, needs_basis=True),
    Transition(S.AFTER_SALES, S.PAID),
    Transition(S.AFTER_SALES, S.SHIPPED),
    Transition(S.AFTER_SALES, S.COMPLETED),
    Transition(S.AFTER_SALES, S.CANCELLED, needs_basis=True),
)

_BY_PAIR: dict[tuple[OrderStatus, OrderStatus], Transition] = {(t.source, t.target): t for t in TRANSITIONS}

TERMINAL: frozenset[OrderStatus] = frozenset(s for s in OrderStatus if not any(t.source == s for t in TRANSITIONS))


def allowed_targets(current: OrderStatus | str) -> tuple[OrderStatus, ...]:
    """The stages an order at ``current`` may move to, in declaration order."""
    current = OrderStatus(current)
    return tuple(t.target for t in TRANSITIONS if t.source == current)


def transition(current: OrderStatus | str, target: OrderStatus | str, *, order_no: str = "") -> Transition:
    """The transition from ``current`` to ``target``.

    Raises:
        IllegalTransition: the machine has no such move (including staying put); the
            message names both stages and the allowed next ones in business language.
    """
    current, target = OrderStatus(current), OrderStatus(target)
    found = _BY_PAIR.get((current, target))
    if found is None:
        raise IllegalTransition(
            order_no=order_no,
            current=Coded("order_status", current.value),
            target=Coded("order_status", target.value),
            allowed=[Coded("order_status", s.value) for s in allowed_targets(current)],
        )
    return found


# Stages in which the warehouse is working on the order: changes must reach the picker.
WAREHOUSE_ACTIVE: frozenset[OrderStatus] = frozenset({S.ALLOCATING, S.PARTIALLY_SHIPPED})
# Stages that still count as open work (not shipped, not closed).
OPEN: frozenset[OrderStatus] = frozenset({S.PENDING_PAYMENT, S.PAID, S.ALLOCATING, S.PARTIALLY_SHIPPED})
