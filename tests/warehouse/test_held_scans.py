"""Scans made while the warehouse link is down are kept on disk and land in scan order when it is back."""

from __future__ import annotations

import pytest

from app.bootstrap import bootstrap
from app.domain.slip import order_qr
from app.services import waves
from app.settings import Settings
from app.sync.held_scans import HeldScans
from app.ui.warehouse_station import WarehouseStation
from tests.sync.proxy import LoopbackProxy
from tests.warehouse.world import BARCODE, LEAD, PICKER, make_order


@pytest.mark.slow
def test_scans_made_offline_are_kept_and_answered_in_order_when_the_link_is_back(qtbot, wh, cjk_font, tmp_path):
    order_no = make_order(wh, [("J2603-02-130", 2), ("T2601-01-110", 1)])
    waves.create_wave(wh.hub.uow(), "HZ", LEAD)
    proxy = LoopbackProxy.to(wh.hub.engine.url)
    remote = bootstrap(Settings(database_url=proxy.url(wh.hub.engine.url).render_as_string(hide_password=False),
                                data_dir=tmp_path, station_name="仓库工作站-01"))
    station = WarehouseStation(remote.uow, PICKER, role="picker", listen_keyboard=False,
                               held_path=tmp_path / "held_scans.sqlite3")
    qtbot.addWidget(station)
    try:
        with qtbot.waitSignal(station.scan_answered, timeout=10_000):
            station.submit_scan(order_qr(order_no))
        assert station.pick_panel.model.rowCount() == 2

        proxy.drop()  # the warehouse network goes down mid-pick
        station.submit_scan(BARCODE["J2603-02-130"])
        qtbot.waitUntil(lambda: station.held.count() == 1, timeout=20_000)
        assert station.pick_panel.tone == "held" and "联网后按扫描顺序自动提交" in station.pick_panel.banner.text()
        station.submit_scan(BARCODE["J2603-02-130"])
        station.submit_scan(BARCODE["T2601-01-110"])
        assert station.held.count() == 3 and "离线待提交 3" in station.queue_label.text()
        station.resize(1400, 800)
        station.show()
        qtbot.waitExposed(station)
        station.grab().save("/tmp/orderhub-screens/warehouse_held_offline.png")
        again = HeldScans(tmp_path / "held_scans.sqlite3")  # on disk: a restarted station would find them
        assert again.count() == 3 and again.first().code == BARCODE["J2603-02-130"]
        again.close()

        proxy.resume()
        qtbot.waitUntil(lambda: station.held.count() == 0, timeout=30_000)
        qtbot.waitUntil(lambda: station.last_result is not None and station.last_result.kind == "confirmed",
                        timeout=10_000)
        assert [line.scanned for line in station.pick_panel.model.lines] == [2, 1]
        assert station.pick_panel.tone == "done"
    finally:
        station.shutdown()
        remote.close()
        proxy.close()
