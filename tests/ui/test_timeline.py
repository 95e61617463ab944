"""The drill-down's timelines: parcel nodes with the courier card and late gaps, warehouse scans by person, the story."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication

from app.demo.seed import seed_demo
from app.domain.actor import Actor
from app.domain.clock import now
from app.ui.order_drill_down import OrderDrillDown
from app.ui.timeline import ITEM_ROLE, TimelineItem, avatar_colour, initials, mark_delays

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")


@pytest.fixture
def demo_hub(hub):
    seed_demo(hub, seed=6, n_orders=300, anchor=now() - timedelta(days=3))
    return hub


def _order(hub, where):
    with hub.uow() as uow:
        return uow.session.scalar(sa.text(f"SELECT order_no FROM orders WHERE {where} ORDER BY id LIMIT 1"))


def _delivered(hub):
    return _order(hub, "status = 'completed' AND EXISTS (SELECT 1 FROM scan_log s WHERE s.order_id = orders.id) AND "
                       "EXISTS (SELECT 1 FROM shipments sh JOIN tracking_events t ON t.shipment_id = sh.id "
                       "WHERE sh.order_id = orders.id AND t.courier_name IS NOT NULL)")


class TelHandler(QObject):
    """What the PC's phone software would receive: Qt hands it every tel: link opened."""

    def __init__(self):
        super().__init__()
        self.urls = []

    @Slot(QUrl)
    def dial(self, url):
        self.urls.append(url.toString())


def _open(qtbot, hub, order_no, **kw):
    view = OrderDrillDown(hub.uow, CS, **kw)
    qtbot.addWidget(view)
    view.resize(1280, 900)
    view.show_order(order_no)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_a_late_node_is_marked_when_it_comes_more_than_the_set_hours_after_the_one_before():
    start = datetime(2026, 3, 1, 8, tzinfo=UTC)  # a pure function of the given times: no clock involved
    newest_first = [TimelineItem(start + timedelta(hours=h), f"n{h}") for h in (40, 10, 6, 0)]
    marked = mark_delays(newest_first, 5)
    assert [i.late_hours for i in marked] == [30, None, 6, None]
    assert [i.late_hours for i in mark_delays(newest_first, 48)] == [None] * 4


def test_the_parcel_timeline_shows_the_newest_node_first_and_emphasised_with_the_courier_card(
        qtbot, demo_hub, cjk_font, shots_dir):
    no = _delivered(demo_hub)
    view = _open(qtbot, demo_hub, no)
    view.layers.setCurrentIndex(0)
    items = view.tracking_view.items()
    nodes = view.detail.tracking
    assert [i.title for i in items] == [n.description for n in nodes] and len(items) >= 5
    assert items[0].current and not any(i.current for i in items[1:])
    assert items[0].at >= items[-1].at  # newest first
    card = view.courier_card
    courier = next(n for n in nodes if n.courier_name)
    assert card.name.text().startswith(f"<b>{courier.courier_name}</b>") and card.phone == courier.courier_phone
    assert nodes[0].location in card.location.text()
    qtbot.wait(50)
    assert view.grab().save(str(Path(shots_dir) / "drill-down-timeline-zh.png"))


def test_copy_puts_the_couriers_phone_on_the_clipboard_and_call_opens_a_tel_link(qtbot, demo_hub, cjk_font):
    view = _open(qtbot, demo_hub, _delivered(demo_hub))
    card = view.courier_card
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(card.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == card.phone
    assert card.phone in view.message.text()
    handler = TelHandler()
    QDesktopServices.setUrlHandler("tel", handler, "dial")
    try:
        qtbot.mouseClick(card.call_button, Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("tel")
    assert handler.urls == ["tel:" + "".join(ch for ch in card.phone if ch.isdigit())]


def test_a_silence_longer_than_the_setting_is_marked_on_the_node_after_it(qtbot, demo_hub, cjk_font, shots_dir):
    no = _delivered(demo_hub)
    with demo_hub.uow() as uow:  # the carrier goes quiet for 30 hours before the last node
        uow.session.execute(sa.text(
            "UPDATE tracking_events SET occurred_at = occurred_at + interval '30 hours' WHERE id = (SELECT t.id FROM"
            " tracking_events t JOIN shipments sh ON sh.id = t.shipment_id JOIN orders o ON o.id = sh.order_id"
            " WHERE o.order_no = :n ORDER BY t.occurred_at DESC LIMIT 1)"), {"n": no})
        uow.commit()
    view = _open(qtbot, demo_hub, no, delay_hours=24)
    items = view.tracking_view.items()
    times = sorted(n.occurred_at for n in view.detail.tracking)
    gaps = [(b - a).total_seconds() / 3600 for a, b in zip(times, times[1:])]
    assert [i.late_hours for i in items if i.late_hours] == [g for g in reversed(gaps) if g > 24]
    assert items[0].late_hours is not None and items[0].late_hours > 30
    index = view.tracking_view.model().index(0, 0)
    assert view.tracking_view.itemDelegate().delay_text(items[0].late_hours).startswith("距上一节点")
    assert index.data(ITEM_ROLE) == items[0]
    relaxed = _open(qtbot, demo_hub, no, delay_hours=1000)
    assert not any(i.late_hours for i in relaxed.tracking_view.items())
    view.layers.setCurrentIndex(0)
    qtbot.wait(50)
    assert view.grab().save(str(Path(shots_dir) / "drill-down-timeline-late.png"))


def test_the_warehouse_log_shows_each_operators_initials_in_their_own_colour(qtbot, demo_hub, cjk_font, shots_dir):
    view = _open(qtbot, demo_hub, _delivered(demo_hub))
    view.layers.setCurrentIndex(1)
    qtbot.wait(50)
    items = view.scan_view.items()
    assert [i.person for i in items] == [s.operator for s in view.detail.scans] and items
    assert items[0].at >= items[-1].at
    # the avatar is painted in the person's colour, at the node of the first row
    image = view.scan_view.viewport().grab().toImage()
    delegate = view.scan_view.itemDelegate()
    rect = view.scan_view.visualRect(view.scan_view.model().index(0, 0))
    fm = view.scan_view.fontMetrics()
    rail_x = fm.horizontalAdvance("2026-12-31 23:59") + delegate.PAD + delegate.AVATAR + delegate.PAD
    centre = QPoint(rail_x, rect.top() + delegate.PAD + fm.height() // 2 + 1 - delegate.AVATAR + 3)
    dpr = image.devicePixelRatio()
    assert QColor(image.pixel(round(centre.x() * dpr), round(centre.y() * dpr))).name() == avatar_colour(items[0].person)
    assert view.grab().save(str(Path(shots_dir) / "drill-down-warehouse-log.png"))


def test_initials_read_a_chinese_surname_or_a_logins_letters_and_colours_survive_a_restart():
    assert (initials("王芳"), initials("li.sf"), initials("zhou_zj"), initials("Xiaomei"), initials(" ")) == (
        "王", "LS", "ZZ", "X", "?")
    names = ["li.sf", "王芳", "picker-07"]
    here = [avatar_colour(n) for n in names]
    code = f"from app.ui.timeline import avatar_colour; print([avatar_colour(n) for n in {names!r}])"
    other = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONHASHSEED="12345"),
                           capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    assert other.stdout.strip() == repr(here)


def test_the_story_reads_newest_first_and_in_english_on_request(qtbot, demo_hub, cjk_font, shots_dir):
    no = _order(demo_hub, "status = 'completed' AND tracking_no IS NOT NULL")
    view = _open(qtbot, demo_hub, no, lang="en")
    items = view.story_view.items()
    assert items and items[0].current and [i.at for i in items] == sorted((i.at for i in items), reverse=True)
    assert items[-1].title == "Ordered"
    titles = [view.layers.itemText(i) for i in range(view.layers.count())]
    assert titles[0].startswith("Logistics") and titles[3].startswith("Rules and changes")
    view.layers.setCurrentIndex(0)
    qtbot.wait(50)
    assert view.grab().save(str(Path(shots_dir) / "drill-down-timeline-en.png"))
    view.layers.setCurrentIndex(3)
    qtbot.wait(50)
    assert view.grab().save(str(Path(shots_dir) / "drill-down-story-en.png"))
