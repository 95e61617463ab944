"""订单穿透视图: the whole story of one order, and cancel / address change with a basis, refused plainly when they must be."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db.models import AuditLog
from app.demo.seed import seed_demo
from app.domain.actor import Actor
from app.domain.fields import ORDER_FIELDS
from app.services.drill_down import order_detail
from app.ui.main_window import StationWindow

CS = Actor("xiaomei", "客服工作台-01", "10.20.1.17")


@pytest.fixture
def demo_hub(hub):
    seed_demo(hub, seed=6, n_orders=700, anchor=datetime(2026, 11, 25, 4, tzinfo=UTC))
    return hub


def _order(hub, where):
    with hub.uow() as uow:
        return uow.session.scalar(sa.text(f"SELECT order_no FROM orders WHERE {where} ORDER BY id LIMIT 1"))


def test_a_delivered_order_shows_every_tracking_node_with_courier_and_its_invoice(qtbot, demo_hub, cjk_font, shots_dir):
    no = _order(demo_hub, "status = 'completed' AND platform = 'douyin' AND EXISTS (SELECT 1 FROM order_ext_attrs a "
                          "WHERE a.order_id = orders.id) AND tracking_no IS NOT NULL")
    window = StationWindow(demo_hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    view = window.open_order(no)
    detail = view.detail
    assert detail.order_no == no and len(detail.tracking) >= 5
    assert any(n.courier_name and n.courier_phone for n in detail.tracking)
    assert {s.action for s in detail.scans} == {"pick", "pack", "ship"}  # who scanned which box when
    titles = [view.layers.itemText(i) for i in range(view.layers.count())]
    assert titles[0].startswith("物流轨迹（") and titles[3].startswith("规则与变更")
    view.layers.setCurrentIndex(0)
    assert not view.cancel_button.isEnabled()  # a delivered order is not cancelled, it goes to after-sales
    header = " ".join(view.header.itemAt(i).widget().text() for i in range(view.header.count()))
    assert "来源平台" in header and "抖店" in header and not any(key in header for key in ORDER_FIELDS if "_" in key)
    assert window.grab().save(str(Path(shots_dir) / "cs-drill-down.png"))


def test_cancelling_from_the_drill_down_needs_a_basis_and_is_audited(qtbot, demo_hub, cjk_font):
    no = _order(demo_hub, "status = 'paid'")
    window = StationWindow(demo_hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(window)
    view = window.open_order(no)
    assert not view.cancel_order("")
    assert "原始依据" in view.message.text() and view.detail.status == "paid"
    assert view.cancel_order("旺旺聊天记录：买家拍错尺码")
    assert view.detail.status == "cancelled" and view.message.text() == "订单已取消"
    with demo_hub.uow() as uow:
        entry = uow.session.execute(sa.select(AuditLog).where(AuditLog.entity_id == no)).scalars().all()[-1]
    assert (entry.operator, entry.basis) == ("xiaomei", "旺旺聊天记录：买家拍错尺码")


def test_an_address_change_during_picking_becomes_an_interception(qtbot, demo_hub, cjk_font):
    no = _order(demo_hub, "status = 'allocating'")
    window = StationWindow(demo_hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(window)
    view = window.open_order(no)
    assert view.change_address("李女士", "13912345678", "江苏省南京市鼓楼区中山北路30号", "微信客服会话截图")
    assert view.detail.receiver.address == "江苏省南京市鼓楼区中山北路30号"
    with demo_hub.uow() as uow:
        notice = uow.session.scalar(sa.text("SELECT payload->>'kind' FROM outbox WHERE topic = 'warehouse.interception'"
                                            " AND payload->>'order_no' = :n"), {"n": no})
    assert notice == "address"


def test_pickers_see_only_the_surname_and_the_phone_tail(demo_hub):
    no = _order(demo_hub, "platform = 'wechat' AND receiver_phone IS NOT NULL")
    cs = order_detail(demo_hub.uow(), no, role="cs")
    picker = order_detail(demo_hub.uow(), no, role="picker")
    assert picker.receiver.name == cs.receiver.name[0] + "**"
    assert picker.receiver.phone.endswith(cs.receiver.phone[-4:]) and cs.receiver.phone[:7] not in picker.receiver.phone


def test_the_drill_down_opens_fast(demo_hub):
    no = _order(demo_hub, "status = 'after_sales'")
    detail = order_detail(demo_hub.uow(), no)
    assert detail.seconds < 0.2, detail.seconds


def test_signing_in_with_a_password_and_the_window_speaks_english_on_request(qtbot, demo_hub, cjk_font, shots_dir):
    from app.services import auth
    from app.ui.login import LoginDialog
    from tests.conftest import STAFF_PASSWORD

    dialog = LoginDialog(lambda login, password: auth.sign_in(demo_hub.uow(), login, password, station="CS-01"))
    qtbot.addWidget(dialog)
    dialog.login.setText("wang.zz")
    dialog.password.setText(STAFF_PASSWORD)
    dialog.language.setCurrentIndex(1)
    dialog.try_sign_in()
    user, lang = dialog.chosen()
    assert (user.login, user.role, lang) == ("wang.zz", "cs_lead", "en")
    window = StationWindow(demo_hub.uow, operator=user.display_name, station="CS-01", database="built-in",
                           lang=lang, actor=CS, role=user.role)
    qtbot.addWidget(window)
    window.resize(1400, 800)
    header = window.cs.model.headerData(4, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.Orientation.Horizontal)
    assert header == "Current order stage" and window.tabs.tabText(0) == "Customer service"
    assert "CS lead" in window.person.text()
    assert window.grab().save(str(Path(shots_dir) / "cs-english.png"))


def test_a_note_for_the_warehouse_reaches_the_picker_when_picking_has_started(qtbot, demo_hub, cjk_font):
    no = _order(demo_hub, "status = 'allocating'")
    window = StationWindow(demo_hub.uow, operator="xiaomei", station="客服工作台-01", database="内置数据库", actor=CS)
    qtbot.addWidget(window)
    view = window.open_order(no)
    assert not view.add_note("   ")
    assert "备注不能为空" in view.message.text()
    assert view.add_note("请勿放干燥剂")
    assert view.detail.seller_note.endswith("xiaomei] 请勿放干燥剂")
    with demo_hub.uow() as uow:
        kinds = list(uow.session.scalars(sa.text("SELECT payload->>'kind' FROM outbox WHERE topic = 'warehouse.interception'"
                                                 " AND payload->>'order_no' = :n"), {"n": no}))
    assert kinds == ["note"]
