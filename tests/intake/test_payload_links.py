"""Each payload is stored linked to the order it was applied to, and to none when it was not applied.

Intake stores a page's payloads already linked to the order each is about to be applied to (the stored
order's id, or the id drawn for a new one), and corrects the guesses its judgement overturns before the
commit, when the link's foreign key is checked (migration 0051). 抖店's simulator over real HTTP.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db.models import Order, RawPayload
from app.hub.pollers import ingest_raw
from app.hub.registry import connector_for, simulator_module
from app.services import ingest, shop_sync
from connectors.base import Credentials, RawOrder, RetryPolicy
from connectors.simulators.server import SimServer
from connectors.simulators.world import SimWorld

CREDS = Credentials(app_key="1234567890123456789", app_secret="link-secret", access_token="token-1")


@pytest.fixture
def platform(hub, add_shop, credentials):
    world = SimWorld("douyin", seed=5)
    server = SimServer(simulator_module("douyin").make_simulator(world, CREDS).handle).start()
    shop_id = add_shop("douyin", "DY-LINK", url=server.url, creds=CREDS, platform_shop_id="77001")
    config = next(s for s in shop_sync.enabled_shops(hub.uow()) if s.id == shop_id)
    connector = connector_for(config, credentials.get(config.credentials_ref), policy=RetryPolicy(sleep=lambda s: None))
    yield world, config, connector
    connector.close()
    server.stop()


def _fetch(world, connector) -> dict[str, RawOrder]:
    """Each order's current payload, as a poll of the last 20 minutes reads it."""
    end = world.now() + timedelta(seconds=2)
    return {r.platform_order_no: r for r in connector.changed_orders(end - timedelta(minutes=20), end)}


def _links(hub) -> dict[bytes, tuple[int | None, str]]:
    with hub.uow() as uow:
        return {bytes(body): (oid, status) for body, oid, status in
                uow.session.execute(sa.select(RawPayload.body, RawPayload.order_id, RawPayload.status))}


def _ids(hub) -> dict[str, int]:
    with hub.uow() as uow:
        return dict(uow.session.execute(sa.select(Order.platform_order_no, Order.id)).all())


def test_payloads_are_linked_to_the_order_applied_and_the_overturned_guesses_to_none(hub, platform):
    world, config, connector = platform
    a, b, c = (o.order_id for o in world.create(3, at=world.now() - timedelta(minutes=10)))
    v1 = _fetch(world, connector)
    world.change_address(a, "新华路1号")
    world.change_address(c, "解放路2号")
    v2 = _fetch(world, connector)
    assert v1[a].body != v2[a].body and v1[c].body != v2[c].body and v1[b].body == v2[b].body

    # New orders, one of them (c) in two versions on the same page: only its newest is applied.
    first = ingest_raw(hub, config, connector, [v2[a], v1[b], v1[c], v2[c]])
    assert [o.verdict for o in first.outcomes] == ["new", "new", "stale", "new"]
    ids, links = _ids(hub), _links(hub)
    assert links[v2[a].body] == (ids[a], "parsed") and links[v1[b].body] == (ids[b], "parsed")
    assert links[v2[c].body] == (ids[c], "parsed") and links[v1[c].body] == (None, "parsed")

    # An older version arriving late: stored (new bytes), stored linked to a's order, then judged stale,
    # so the link is taken back before the commit. A payload that cannot be read is linked to nothing.
    world.note(b, "加急")
    late = ingest_raw(hub, config, connector, [v1[a], RawOrder("x", b"{not json", "order.orderDetail"),
                                               _fetch(world, connector)[b]])
    assert [o.verdict for o in late.outcomes] == ["stale", "quarantined", "apply"]
    links = _links(hub)
    assert links[v1[a].body] == (None, "parsed")
    assert links[b"{not json"] == (None, "quarantined")
    b2 = next(body for body, (oid, _) in links.items() if oid == ids[b] and body != v1[b].body)
    assert links[b2] == (ids[b], "parsed")

    # The same bytes again: duplicates, nothing stored or re-linked; every order kept its id.
    again = ingest_raw(hub, config, connector, [v2[a], v1[b]])
    assert [o.verdict for o in again.outcomes] == ["duplicate", "duplicate"]
    assert _ids(hub) == ids and _links(hub) == links


def test_a_payload_linked_to_an_order_that_never_comes_fails_at_commit_and_stores_nothing(hub, platform):
    """The link's foreign key is checked at commit: deferred, not dropped."""
    world, config, connector = platform
    (a,) = (o.order_id for o in world.create(1, at=world.now() - timedelta(minutes=10)))
    payload = ingest.Payload("order.orderDetail", _fetch(world, connector)[a].body)
    with hub.uow() as uow, pytest.raises(sa.exc.IntegrityError):
        ingest._store_payloads(uow.session, "douyin", config.id, [payload], {payload.sha256: a})
        uow.commit()
    assert _links(hub) == {} and _ids(hub) == {}
