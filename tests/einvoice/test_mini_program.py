"""「小程序订单自动绑定电子发票」 end to end: the routing rule binds the invoice in its transaction, 诺诺 issues it."""

from __future__ import annotations

from decimal import Decimal

from app.services import einvoice, routing
from tests.einvoice.conftest import Tax
from tests.routing.world import HUB, build, make_order, order, save, set_stock


def test_a_mini_program_order_routed_by_the_rule_gets_its_e_invoice_from_the_provider(tax: Tax):
    world = build(tax.hub)
    set_stock(world, "HZ", "T2601-01-110", 9)
    save(world, "R-MINI-INVOICE", "小程序订单自动绑定电子发票", {"field": "shop", "op": "eq", "value": "WX-MINI"},
         [{"type": "bind_invoice"}])
    mini, douyin = make_order(world, shop="WX-MINI", paid="199.00"), make_order(world)
    routing.route_order(tax.hub.uow(), mini, HUB)
    routing.route_order(tax.hub.uow(), douyin, HUB)
    assert [r.kind for r in einvoice.requests_of(tax.hub.uow(), order_no=mini)] == ["blue"]  # written with the routing
    assert einvoice.requests_of(tax.hub.uow(), order_no=douyin) == []
    tax.run(3)
    [(kind, number, amount)] = tax.invoices(mini)
    assert kind == "blue" and amount == Decimal("199.00") and len(number) == 20
    assert order(world, mini)["invoice_status"] == "issued"
    [submitted] = [inv for inv in tax.sim.invoices.values() if inv["number"] == number]
    assert submitted["orderAmount"] == "199.00"
