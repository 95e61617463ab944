"""SQL injection in every search box and filter: nothing found, nothing changed, nothing crashed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.cli import main
from app.domain.errors import BusinessError
from app.services import drill_down, order_queries, waves
from app.services.order_queries import OrderFilter
from app.sync.cache import OrderCache, Scope
from app.sync.local_db import LocalDb
from tests.support.factories import make_order

PAYLOADS = (
    "' OR '1'='1",
    "'; DROP TABLE orders; --",
    "x'); DELETE FROM audit_log; --",
    "1 UNION SELECT login, password_hash FROM users --",
    "%' OR 1=1 --",
    "\\'; UPDATE users SET role = 'admin' WHERE login = 'li.sf'; --",
    "０＇ＯＲ１＝１",  # full-width look-alikes from a Chinese input method
    "订单'||(SELECT pg_sleep(3))||'",
)


def _fingerprint(hub) -> tuple:
    with hub.uow() as uow:
        s = uow.session
        return (s.scalar(sa.text("SELECT count(*) FROM orders")), s.scalar(sa.text("SELECT count(*) FROM audit_log")),
                s.scalar(sa.text("SELECT role FROM users WHERE login = 'li.sf'")),
                s.scalar(sa.text("SELECT count(*) FROM role_permissions")))


@pytest.fixture
def orders_there(hub):
    return [make_order(hub, "paid")[0], make_order(hub, "allocating")[0]]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_order_list_search_and_filters_find_nothing_and_change_nothing(hub, orders_there, payload):
    before = _fingerprint(hub)
    for flt in (OrderFilter(search=payload), OrderFilter(province=payload), OrderFilter(status=payload),
                OrderFilter(platform=payload), OrderFilter(search=payload, province=payload)):
        assert order_queries.list_orders(hub.uow(), flt) == []
        assert order_queries.count_orders(hub.uow(), flt) == 0
        if flt.province is None:  # the map colours every province whatever province is picked
            assert order_queries.counts_by_province(hub.uow(), flt) == {}
    with pytest.raises(BusinessError) as caught:
        drill_down.order_detail(hub.uow(), payload)
    assert caught.value.code == "NOT_FOUND"
    with pytest.raises(BusinessError) as caught:
        waves.list_waves(hub.uow(), warehouse=payload)
    assert caught.value.message("zh") == f"找不到仓库「{payload}」"
    assert _fingerprint(hub) == before
    assert len(order_queries.list_orders(hub.uow(), OrderFilter())) == 2  # the orders are all still there


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_stations_offline_search_finds_nothing_and_keeps_its_cache(hub, orders_there, tmp_path, payload):
    cache = OrderCache(LocalDb(tmp_path / "station.sqlite3"), Scope("cs"))
    with hub.uow() as uow:
        rows = [dict(r) for r in uow.session.execute(sa.text(
            "SELECT o.*, s.name AS shop, w.name AS warehouse FROM orders o JOIN shops s ON s.id = o.shop_id "
            "LEFT JOIN warehouses w ON w.id = o.warehouse_id")).mappings()]
    cache.apply(rows, searched=True)
    held = cache.count()
    assert held == 2
    assert cache.list_orders(OrderFilter(search=payload)) == []
    assert cache.list_orders(OrderFilter(province=payload, status=payload)) == []
    assert cache.count() == held


@pytest.mark.parametrize("payload", PAYLOADS[:4])
def test_the_command_line_filters_refuse_or_find_nothing_and_change_nothing(hub, orders_there, tmp_path, monkeypatch,
                                                                           capsys, payload):
    monkeypatch.setenv("ORDERHUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ORDERHUB_DATA_DIR", str(tmp_path))
    before = _fingerprint(hub)
    assert main(["orders", "--status", payload]) == 2  # not a stage: refused with the stages one may choose
    assert payload in capsys.readouterr().err  # the refusal names what was typed, as typed
    assert main(["orders", "--platform", payload]) == 2
    assert main(["wave", "list", "--warehouse", payload]) in (0, 2)
    assert main(["notices", "list", "--picker", payload]) == 0
    assert main(["case", "list", payload]) in (0, 2)
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "password_hash" not in out.out
    assert _fingerprint(hub) == before
