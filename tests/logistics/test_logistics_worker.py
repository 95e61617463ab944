"""The hub's write-back loop wired as `orderhub hub` wires it: credentials from the store, one round does it all."""

from __future__ import annotations

import dataclasses

from app.hub.logistics_worker import KUAIDI100_REF, SF_REF, LogisticsWorker
from app.hub.credentials import FileStore
from app.services import writeback
from connectors.base import Credentials
from tests.logistics.conftest import SALT
from tests.writeback.channel import Channel


def test_one_round_confirms_the_shipment_on_the_platform_and_subscribes_its_tracking(hub, carriers, tmp_path):
    ch = Channel(hub, "wechat")
    try:
        store = FileStore(tmp_path / "store.json")
        store.put(ch.shop.credentials_ref, dataclasses.replace(ch.creds))
        store.put(KUAIDI100_REF, Credentials(carriers.kd100.key, SALT, extra={
            "base_url": carriers.kd100.base_url, "callback_url": carriers.kd100.callback_url}))
        store.put(SF_REF, Credentials("XSMTZ", "sf-check-word-0123", extra={"base_url": carriers.sf.base_url}))
        sim, order_no = ch.take_order()
        ch.ship(order_no, "YT7990000000001", carrier="圆通速递")
        worker = LogisticsWorker(hub, store)
        assert worker.accounts.kuaidi100_salt == SALT and worker.accounts.sf_check_word == "sf-check-word-0123"
        worker.run_once()
        worker.stop()
        assert ch.world.orders[sim.order_id].status == "shipped"
        assert "YT7990000000001" in carriers.kd100_sim.subscriptions
        kinds = [(a["kind"], a["outcome"]) for a in writeback.attempts(hub.uow(), order_no)]
        assert ("ship", "done") in kinds and ("subscribe", "done") in kinds
    finally:
        ch.close()
