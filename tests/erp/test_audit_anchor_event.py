"""The daily audit anchor travels in the ERP webhook stream: once per business day, and what the ERP kept catches a rewrite."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import sqlalchemy as sa

from app.db.erp_models import ErpDelivery
from app.domain import clock
from app.domain.actor import Actor
from app.hub.audit_anchor import CST, anchor_if_due
from app.services import audit, erp_outbound
from tests.db.test_audit_chain_drills import REWRITE_AND_REHASH, _cli, _write
from tests.erp.conftest import Bridge

LIU = Actor("liu.gong", "管理工作台", "10.20.1.2")


def _anchor_events(bridge: Bridge) -> list[dict]:
    return [e for e in bridge.erp.received if e["type"] == erp_outbound.ANCHOR_EVENT]


def _queued(bridge: Bridge) -> int:
    with bridge.hub.uow() as uow:
        return uow.session.scalar(sa.select(sa.func.count()).select_from(ErpDelivery)
                                  .where(ErpDelivery.event_type == erp_outbound.ANCHOR_EVENT))


def test_the_anchor_goes_to_the_erp_once_a_day_however_often_and_by_however_many_hubs_the_job_runs(bridge, tmp_path):
    _write(bridge.hub, 3)
    today = clock.now()
    with clock.set_to(today):
        assert anchor_if_due(bridge.hub, tmp_path / "hub-a") is not None
        assert anchor_if_due(bridge.hub, tmp_path / "hub-a") is None  # the hourly check again
        anchor_if_due(bridge.hub, tmp_path / "hub-b")  # a second hub with its own folder, the same day
    assert _queued(bridge) == 1
    assert bridge.drain() >= 1
    assert bridge.drain() == 0  # nothing left to send
    [event] = _anchor_events(bridge)
    [kept_file] = (tmp_path / "hub-a").glob("*.json")
    kept = audit.Anchor.from_json(kept_file.read_text(encoding="utf-8"))
    assert event["data"]["record_id"] == kept.record_id and event["data"]["hash"] == kept.hash
    assert event["data"]["hash_alg"] == "sha256" and event["data"]["taken_at"] == kept.taken_at
    assert event["order_no"] is None and event["event_id"]

    with clock.set_to(today + timedelta(days=1)):  # the next business day: its own anchor
        anchor_if_due(bridge.hub, tmp_path / "hub-a")
    bridge.drain()
    days = [e["data"]["business_day"] for e in _anchor_events(bridge)]
    assert days == [kept_file.stem, f"{(today + timedelta(days=1)).astimezone(CST):%Y-%m-%d}"]
    assert bridge.erp.duplicates == 0

    shown = erp_outbound.anchor_deliveries(bridge.hub.uow())  # where ERP pushes are listed
    assert [r.status for r in shown] == ["sent", "sent"] and {r.event_type for r in shown} == {"audit.anchor"}


def test_two_hubs_anchoring_at_the_same_moment_queue_one_event(bridge, tmp_path):
    _write(bridge.hub, 2)
    head = audit.anchor(bridge.hub.uow(), taken_at=clock.now())
    day = f"{clock.now().astimezone(CST):%Y-%m-%d}"  # the business day of the test's clock, never a fixed date
    added: list[int] = []
    go = threading.Barrier(4)

    def hub_job() -> None:
        go.wait()
        added.append(erp_outbound.emit_anchor(bridge.hub.uow(), head, day))

    jobs = [threading.Thread(target=hub_job) for _ in range(4)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(60)
    assert sum(added) == 1 and _queued(bridge) == 1


def test_an_endpoint_that_does_not_subscribe_to_anchors_gets_none(bridge, tmp_path):
    erp_outbound.save_endpoint(bridge.hub.uow(), "erpnext", name="ERPNext 总账", url=bridge.erp_server.url,
                               secret_ref="orderhub:erp:out", events=("order.created",), actor=LIU)
    _write(bridge.hub, 1)
    anchor_if_due(bridge.hub, tmp_path)
    assert _queued(bridge) == 0


def test_a_superuser_rewrite_is_caught_by_the_anchor_exactly_as_the_erp_received_it(bridge, tmp_path):
    _write(bridge.hub, 6)
    anchor_if_due(bridge.hub, tmp_path / "anchors")
    bridge.drain()
    [event] = _anchor_events(bridge)
    from_erp = tmp_path / "anchor-from-erp.json"  # what the ERP stored, not the hub's own file
    from_erp.write_text(json.dumps(event["data"], ensure_ascii=False), encoding="utf-8")
    _write(bridge.hub, 3, tag="later-")
    assert _cli(bridge.hub, "verify", "--anchor", str(from_erp)).returncode == 0  # records after the anchor are fine

    with bridge.hub.engine.begin() as conn:  # the embedded server's user is a superuser: exactly the threat
        for statement in REWRITE_AND_REHASH:
            conn.exec_driver_sql(statement)
    plain = _cli(bridge.hub, "verify")
    assert plain.returncode == 0, plain.stdout + plain.stderr  # consistent in itself...
    anchored = _cli(bridge.hub, "verify", "--anchor", str(from_erp))
    assert anchored.returncode == 1  # ...but not with the head the ERP holds
    assert f"Audit record {event['data']['record_id']}" in anchored.stdout
    assert "anchor kept outside the database" in anchored.stdout
