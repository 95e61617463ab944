"""One search box finds an order by any handle a customer gives on the phone."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app.demo.seed import seed_demo
from app.services.order_queries import OrderFilter, list_orders


@pytest.fixture
def demo(hub):
    seed_demo(hub, seed=4, n_orders=300, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
    with hub.uow() as uow:
        row = uow.session.execute(sa.text(
            "SELECT order_no, platform_order_no, tracking_no, receiver_phone_tail, receiver_name FROM orders "
            "WHERE tracking_no IS NOT NULL AND receiver_phone_tail IS NOT NULL ORDER BY id LIMIT 1")).one()
    return hub, row


@pytest.mark.parametrize("handle", ["order_no", "platform_order_no", "tracking_no", "receiver_phone_tail"])
def test_each_handle_finds_the_order(demo, handle):
    hub, row = demo
    found = list_orders(hub.uow(), OrderFilter(search=getattr(row, handle)))
    assert row.order_no in [r.order_no for r in found]
    if handle != "receiver_phone_tail":
        assert len(found) == 1


def test_a_lower_case_order_number_still_finds_it(demo):
    hub, row = demo
    assert [r.order_no for r in list_orders(hub.uow(), OrderFilter(search=row.order_no.lower()))] == [row.order_no]


def test_search_combines_with_the_filters(demo):
    hub, row = demo
    [found] = list_orders(hub.uow(), OrderFilter(search=row.order_no))
    assert list_orders(hub.uow(), OrderFilter(search=row.order_no, status=found.status))[0].order_no == row.order_no
    assert list_orders(hub.uow(), OrderFilter(search=row.order_no, status="pending_payment")) == []  # it has shipped
