"""The order status machine: every allowed move works, every other move is refused in business language."""

import itertools

import pytest

from app.domain.errors import IllegalTransition
from app.domain.fields import CODE_LISTS
from app.domain.status import TERMINAL, TRANSITIONS, OrderStatus, allowed_targets, transition

ALLOWED = {(t.source, t.target) for t in TRANSITIONS}
ILLEGAL = [pair for pair in itertools.product(OrderStatus, repeat=2) if pair not in ALLOWED]


def test_the_machine_knows_exactly_the_eight_stages_the_business_named():
    assert [CODE_LISTS["order_status"][s.value][0] for s in OrderStatus] == [
        "待支付", "已支付", "配货中", "部分发货", "已发货", "已完成", "已取消", "售后中"]


def test_a_split_order_is_partly_shipped_until_its_last_parcel_and_never_goes_back_to_picking():
    assert transition("allocating", "partially_shipped").needs_basis is False
    assert transition("partially_shipped", "shipped").needs_basis is False
    assert transition("partially_shipped", "cancelled").intercept is True
    with pytest.raises(IllegalTransition):
        transition("partially_shipped", "allocating")


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_an_allowed_move_is_returned_with_its_rules(source, target):
    step = transition(source, target)
    assert (step.source, step.target) == (source, target)


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_every_move_not_in_the_machine_is_refused(source, target):
    with pytest.raises(IllegalTransition) as caught:
        transition(source, target, order_no="OH1")
    message = caught.value.message("zh")
    assert CODE_LISTS["order_status"][source.value][0] in message
    assert CODE_LISTS["order_status"][target.value][0] in message
    assert source.value not in message.split("「")[1]  # the stage is named, not its code


def test_a_refusal_reads_in_english_too():
    with pytest.raises(IllegalTransition) as caught:
        transition("shipped", "paid", order_no="OH9")
    assert caught.value.message("en") == (
        "Order OH9 is at stage “Shipped” and cannot move to “Paid”. "
        "Allowed next stages: Completed, In after-sales")


def test_a_cancelled_order_is_final():
    assert TERMINAL == {OrderStatus.CANCELLED}
    assert allowed_targets("cancelled") == ()


def test_cancelling_needs_a_basis_from_every_stage_that_allows_it():
    assert all(t.needs_basis for t in TRANSITIONS if t.target == OrderStatus.CANCELLED)


def test_cancelling_after_picking_started_is_an_interception():
    assert transition("allocating", "cancelled").intercept
    assert not transition("paid", "cancelled").intercept
