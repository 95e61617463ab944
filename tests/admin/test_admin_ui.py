"""The 配置 pages driven as a person would (pytest-qt, offscreen), each screen saved as a picture and looked at."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.master_data import ean13_check_digit
from app.hub.credentials import FileStore
from app.settings import Settings, load_settings
from app.ui.admin import AdminStation
from app.ui.main_window import StationWindow
from tests.admin.test_shops import CREDS, SECRET, simulator
from tests.printers.fake_printer import FakePrinter

SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")


@pytest.fixture
def fonts(qapp):
    from app.ui import fonts as f

    return f.install(qapp)


@pytest.fixture
def admin(qtbot, hub, tmp_path, fonts) -> AdminStation:
    station = AdminStation(hub.uow, ADMIN, credentials=FileStore(tmp_path / "secrets.json"),
                           settings=Settings(data_dir=tmp_path), config_path=tmp_path / "config.toml")
    qtbot.addWidget(station)
    station.resize(1360, 780)
    station.show()
    yield station
    station.shutdown()


def shot(widget, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"admin-{name}.png"))


def xlsx(path: Path, rows: list[list]) -> Path:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def load(qtbot, page, path: Path) -> None:
    """Choose a file and wait for its preview (checked on the page's worker)."""
    with qtbot.waitSignal(page._checking.finished, timeout=30_000):
        assert page.load_file(path)


def ean(first12: str) -> str:
    return first12 + str(ean13_check_digit(first12))


def test_adding_a_shop_prefills_the_gateway_and_keeps_the_secret_out_of_the_database(admin, hub, qtbot):
    page = admin.show_page("shops")
    page.new_button.click()
    page.platform.setCurrentIndex(page.platform.findData("douyin"))
    assert page.url.text() == "https://openapi-fxg.jinritemai.com"
    page.platform.setCurrentIndex(page.platform.findData("pdd"))
    assert page.url.text() == "https://gw-api.pinduoduo.com"  # the pre-filled gateway follows the platform
    page.code.setText("PDD-01")
    page.name.setText("小树苗拼多多店")
    page.app_key.setText("pdd-client-1")
    page.secret.setText(SECRET)
    page.save_button.click()
    assert "已保存" in page.message.text() and "不在数据库中" in page.message.text()
    assert page.list.rowCount() == 1 and page.list.item(0, 2).text() == "拼多多" and page.list.item(0, 5).text() == "是"
    assert page.code.isReadOnly() and page.secret.text() == "" and "留空则保留" in page.secret.placeholderText()
    with hub.engine.connect() as conn:
        assert SECRET not in str(conn.execute(sa.text("SELECT * FROM shops")).all())
    shot(admin, "shops-saved")


@pytest.mark.parametrize(("secret", "outcome", "words"), [(SECRET, "ok", "连接正常"),
                                                            ("not-the-secret-000000", "wrong_secret", "密钥不正确")])
def test_test_connection_shows_the_platform_s_answer_in_words(admin, qtbot, secret, outcome, words):
    server = simulator("taobao")
    try:
        page = admin.show_page("shops")
        page.new_button.click()
        page.platform.setCurrentIndex(page.platform.findData("taobao"))
        page.url.setText(server.url)
        page.code.setText("TB-01")
        page.name.setText("小树苗淘宝店")
        page.app_key.setText(CREDS.app_key)
        page.secret.setText(secret)
        page.access_token.setText(CREDS.access_token)
        page.save_button.click()
        with qtbot.waitSignal(page._worker.finished, timeout=15_000):
            page.test_button.click()
        qtbot.waitUntil(lambda: page.test_button.isEnabled())
        assert page.last_check.outcome == outcome
        assert words in page.message.text()
        shot(admin, f"shops-test-{outcome}")
    finally:
        server.stop()


def test_disabling_a_shop_marks_it_in_the_list(admin):
    page = admin.show_page("shops")
    page.platform.setCurrentIndex(page.platform.findData("wechat"))
    page.code.setText("WX-01")
    page.name.setText("小树苗微信小店")
    page.app_key.setText("wx123")
    page.secret.setText(SECRET)
    assert page.save()
    page.new_button.click()
    assert page.code.text() == "" and not page.code.isReadOnly()
    page.list.selectRow(0)  # picking the shop in the list loads it for editing
    assert page.code.text() == "WX-01" and page.code.isReadOnly() and page.url.text() == "https://api.weixin.qq.com"
    page.name.setText("小树苗微信小店（旗舰）")
    assert page.save() and page.list.item(0, 1).text() == "小树苗微信小店（旗舰）"
    page.switch_button.click()
    assert page.message.text() == "店铺「小树苗微信小店（旗舰）」已停用，不再拉取订单"
    assert page.list.item(0, 6).text() == "否" and page.switch_button.text() == "启用"


def test_a_bad_spreadsheet_is_previewed_row_by_row_and_cannot_be_imported(admin, tmp_path, hub, qtbot):
    page = admin.show_page("master_data")
    page.kind.setCurrentIndex(page.kind.findData("bins"))
    path = xlsx(tmp_path / "库位.xlsx", [["仓库编码", "库位编码", "库区", "排", "架", "层", "X坐标（米）", "Y坐标（米）", "拣货顺序"],
                                      ["HZ01", "A-01-01-1", "A", 1, 1, 1, 2.5, 3, 10],
                                      ["HZ01", "A-01-01-1", "A", 1, 1, 1, 2.5, 3, -1]])
    load(qtbot, page, path)
    assert not page.confirm_button.isEnabled()
    problems = page.preview_table.item(1, page.preview_table.columnCount() - 1).text()
    assert "仓库「HZ01」不存在" in problems and "「拣货顺序」不能为负数（-1）" in problems and "与第 2 行重复" in problems
    assert page.preview_table.horizontalHeaderItem(0).text() == "行号"
    assert page.summary.text() == "库位.xlsx：共 2 行：新增 0，更新 0，有错误 2"
    shot(admin, "master-data-errors")
    assert not page.confirm()
    assert page.summary.text() == "还有 2 行有错误，未导入任何数据；请改正文件后重新预览"
    with hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM bins")) == 0


def test_a_good_spreadsheet_is_imported_on_confirm_and_shown_with_the_records(admin, tmp_path, qtbot):
    page = admin.show_page("master_data")
    page.kind.setCurrentIndex(page.kind.findData("warehouses"))
    template = tmp_path / "模板.xlsx"
    page.save_template(template)
    header = [c.value for c in openpyxl.load_workbook(template).active[1]]
    path = xlsx(tmp_path / "仓库.xlsx", [header, ["HZ01", "杭州自营仓", "自营仓", "浙江省", "杭州市", "余杭区仓前街道 1 号"],
                                      ["HF02", "合肥云仓", "云仓", "安徽省", "合肥市", "蜀山区 88 号"]])
    load(qtbot, page, path)
    assert page.confirm_button.isEnabled()
    assert page.preview_table.item(0, 1).text() == "新增"
    shot(admin, "master-data-preview")
    with qtbot.waitSignal(page._importing.finished, timeout=30_000):
        page.confirm_button.click()
    assert page.summary.text() == "已导入仓库：新增 2，更新 0"
    assert page.tabs.currentWidget() is page.current_table and page.current_table.rowCount() == 2
    assert page.current_table.item(0, 2).text() == "云仓"  # the business name, not the stored code
    shot(admin, "master-data-imported")


def test_a_gbk_csv_and_an_empty_file_are_handled_with_words(admin, tmp_path, qtbot):
    page = admin.show_page("master_data")
    page.kind.setCurrentIndex(page.kind.findData("warehouses"))
    gbk = tmp_path / "仓库.csv"
    gbk.write_bytes("仓库编码,仓库名称,仓库类型,省份,城市,详细地址\r\nGZ03,广州云仓,云仓,广东省,广州市,白云区 6 号\r\n".encode("gbk"))
    load(qtbot, page, gbk)
    assert page.confirm_button.isEnabled()
    assert "文件编码：GBK" in page.file_problems.text() and page.preview_table.item(0, 3).text() == "广州云仓"
    empty = tmp_path / "空.csv"
    empty.write_bytes(b"")
    load(qtbot, page, empty)
    assert page.summary.text() == "文件是空的：没有表头，也没有数据行" and not page.confirm_button.isEnabled()
    shot(admin, "master-data-empty")


def test_a_long_sheet_shows_every_refused_row_and_says_how_many_are_on_screen(admin, tmp_path, qtbot):
    from app.ui.admin.master_data_page import SHOWN_ROWS

    page = admin.show_page("master_data")
    page.kind.setCurrentIndex(page.kind.findData("warehouses"))
    rows = [["仓库编码", "仓库名称", "仓库类型", "省份", "城市", "详细地址"]]
    rows += [[f"W{i:05d}", f"仓{i}", "云仓", "浙江省", "杭州市", "余杭区"] for i in range(SHOWN_ROWS + 500)]
    rows.append(["W00001", "重复的仓", "云仓", "浙江省", "杭州市", "余杭区"])  # the last row, a duplicate
    load(qtbot, page, xlsx(tmp_path / "many.xlsx", rows))
    assert page.preview_table.rowCount() == SHOWN_ROWS
    last = page.preview_table.rowCount() - 1
    assert page.preview_table.item(last, 0).text() == str(SHOWN_ROWS + 502) and "与第 3 行重复" in page.preview_table.item(
        last, page.preview_table.columnCount() - 1).text()
    assert f"仅显示 {SHOWN_ROWS} 行（有错误的行全部显示），共 {SHOWN_ROWS + 501} 行" in page.file_problems.text()


@pytest.fixture
def routed(hub):
    from tests.routing.world import build, make_order, save

    world = build(hub)
    save(world, "R-JZH", "江浙沪订单由杭州仓发货", {"field": "province", "op": "in", "value": ["浙江省", "江苏省"]},
         [{"type": "choose_warehouse", "warehouses": ["HZ"]}], priority=10, note="初版")
    recent = datetime.now(UTC) - timedelta(days=1)
    for province in ("浙江省", "江苏省", "广东省"):
        make_order(world, province=province, ordered_at=recent)
    return world


def test_a_rule_is_tried_on_history_before_it_can_be_saved_as_a_new_version(admin, routed, qtbot):
    page = admin.show_page("rules")
    page.refresh()
    codes = [page.list.item(r, 0).text() for r in range(page.list.rowCount())]
    page.list.selectRow(codes.index("R-JZH"))
    assert page.history.rowCount() == 1 and '"R-JZH"' in page.text.toPlainText()
    draft = json.loads(page.text.toPlainText())
    draft["condition"]["value"].append("广东省")
    page.text.setPlainText(json.dumps(draft, ensure_ascii=False, indent=2))
    assert not page.save_button.isEnabled()  # not before the dry run
    assert page.outline.text() == "省份 属于 浙江省、江苏省、广东省 → 由杭州自营仓发货"  # read back as it is typed
    with qtbot.waitSignal(page._worker.finished, timeout=30_000):
        page.try_button.click()
    assert page.report is not None and page.report.orders >= 3
    assert "江浙沪订单由杭州仓发货" in page.result.text() and page.outcomes.rowCount() >= 1
    assert page.save_button.isEnabled()
    page.note.setText("广东订单也先走杭州仓（周会）")
    shot(admin, "rules-dry-run")
    page.save_button.click()
    assert page.message.text() == "规则「江浙沪订单由杭州仓发货」已保存为第 2 版"
    assert page.history.rowCount() == 2 and page.history.item(0, 5).text() == "广东订单也先走杭州仓（周会）"

    page.text.setPlainText(page.text.toPlainText() + " ")
    assert not page.save_button.isEnabled()  # an edit after the dry run needs a new one


def test_a_rule_is_switched_off_with_its_basis_and_a_broken_draft_is_explained(admin, routed):
    page = admin.show_page("rules")
    page.refresh()
    codes = [page.list.item(r, 0).text() for r in range(page.list.rowCount())]
    page.list.selectRow(codes.index("R-JZH"))
    page.basis.setText("仓库盘点，暂停")
    assert page.toggle()
    assert "停用" in page.message.text()
    row = [page.list.item(r, 0).text() for r in range(page.list.rowCount())].index("R-JZH")
    assert page.list.item(row, 4).text() == "否" and page.switch_button.text() == "启用"
    page.text.setPlainText('{"code": "R-X", "name": "坏规则", "condition": {"field": "province", ')
    assert "规则格式有误" in page.outline.text()
    page.try_draft()
    assert page.result.text() == "规则写法有误：第 1 行第 67 个字符附近，请检查括号、引号和逗号"
    assert not page.save_button.isEnabled()
    shot(admin, "rules-disabled")


def test_a_platform_field_is_renamed_from_its_page(admin, routed, hub):
    page = admin.show_page("field_defs")
    page.refresh()
    assert page.list.rowCount() >= 1
    page.list.selectRow(0)
    key = page.key.text()
    page.label_zh.setText("带货达人佣金比例")
    page.save_button.click()
    assert page.message.text() == "平台字段「带货达人佣金比例」已保存"
    assert any(page.list.item(r, 2).text() == "带货达人佣金比例" and page.list.item(r, 1).text() == key
               for r in range(page.list.rowCount()))
    page.label_en.setText("")
    assert not page.save() and page.message.text() == "中文名称和英文名称都要填写"
    page.filter.setCurrentIndex(page.filter.findData("wechat"))
    assert {page.list.item(r, 0).text() for r in range(page.list.rowCount())} == {"微信小店"}
    shot(admin, "field-defs")


def test_the_printer_is_saved_for_this_station_and_prints_a_test_slip(admin, tmp_path, qtbot):
    printer = FakePrinter()
    try:
        page = admin.show_page("printer")
        page.backend.setCurrentIndex(page.backend.findData("serial"))
        assert page.hint.text().startswith("端口:波特率") and page.address.placeholderText() == "/dev/ttyUSB0:9600"
        page.backend.setCurrentIndex(page.backend.findData("network"))
        page.address.setText(f"127.0.0.1:{printer.port}")
        page.paper.setCurrentIndex(page.paper.findData("80mm"))
        page.save_button.click()
        assert page.message.text().startswith("打印机设置已保存到本工作站")
        settings = load_settings(env={}, config_file=tmp_path / "config.toml")
        assert (settings.slip_printer, settings.slip_profile) == (f"network:127.0.0.1:{printer.port}", "80mm")
        with qtbot.waitSignal(page._worker.finished, timeout=15_000):
            page.test_button.click()
        assert page.last_trial.printed and page.message.text().startswith("测试页已打印到")
        assert printer.connections and len(printer.connections[0]) > 100
        shot(admin, "printer-ok")
        printer.state = "paper_out"
        with qtbot.waitSignal(page._worker.finished, timeout=15_000):
            page.test_button.click()
        assert not page.last_trial.printed and page.message.text() == "测试页没有打印：打印机缺纸，请装纸后再试"
        shot(admin, "printer-paper-out")
    finally:
        printer.close()


def test_the_admin_tab_of_the_station_window_holds_the_pages(qtbot, hub, tmp_path, fonts):
    window = StationWindow(hub.uow, operator="刘工", station="配置工作站-01", database="内置数据库", actor=ADMIN,
                           role="admin", admin_setup={"credentials": FileStore(tmp_path / "s.json"),
                                                      "settings": Settings(data_dir=tmp_path),
                                                      "config_path": tmp_path / "config.toml"})
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "配置"
    names = [window.admin.nav.item(i).text() for i in range(window.admin.nav.count())]
    assert names == ["店铺与授权", "仓库与库位", "路由规则", "售后流程", "用户与权限", "ERP推送", "平台字段定义", "打印机设置"]
    window.admin.show_page("flows")
    assert window.admin.stack.currentWidget() is window.admin.flows
    shot(window, "station-admin-tab")
    window.close()


def test_the_pages_read_in_english_too(qtbot, hub, tmp_path, fonts):
    station = AdminStation(hub.uow, ADMIN, lang="en", credentials=FileStore(tmp_path / "s.json"),
                           settings=Settings(data_dir=tmp_path), config_path=tmp_path / "config.toml")
    qtbot.addWidget(station)
    station.resize(1360, 780)
    page = station.show_page("master_data")
    load(qtbot, page, xlsx(tmp_path / "w.xlsx", [["Warehouse code", "Warehouse name"], ["X", "Y"]]))
    assert "Required column “Warehouse type” is missing" in page.file_problems.text()
    missing = tmp_path / "gone.xlsx"
    assert not page.load_file(missing) and page.summary.text().startswith("Cannot read the file “gone.xlsx”")
    load(qtbot, page, tmp_path / "w.xlsx")
    assert page.summary.text() == "w.xlsx: 1 rows: 0 new, 0 updated, 1 with errors"
    assert page.preview_table.item(0, 1).text() == "Has errors" and not page.confirm_button.isEnabled()
    shot(station, "master-data-english")
    station.shutdown()


def test_an_erp_endpoint_is_added_with_a_generated_secret_kept_only_in_the_credential_store(admin, hub, tmp_path):
    page = admin.show_page("webhooks")
    page.code.setText("erpnext")
    page.name.setText("总部 ERPNext")
    page.url.setText("https://erp.example.com/api/method/orderhub.receive")
    page.events["order.shipped"].setChecked(True)
    page.events["invoice.issued"].setChecked(True)
    page.save()
    said = page.message.text()
    assert said.startswith("已保存ERP接口「erpnext」") and "请复制到ERP中：whsec_" in said, said
    secret = said.rsplit("：", 1)[1]
    stored = FileStore(tmp_path / "secrets.json").get("orderhub:erp:erpnext")
    assert stored is not None and stored.app_secret == secret
    with hub.uow() as uow:  # the database keeps the reference, never the secret
        row = uow.session.execute(sa.text("SELECT secret_ref, events FROM erp_endpoints WHERE code = 'erpnext'")).one()
        dumped = uow.session.execute(sa.text("SELECT string_agg(t::text, '') FROM erp_endpoints t")).scalar_one()
    assert row.secret_ref == "orderhub:erp:erpnext" and set(row.events) == {"order.shipped", "invoice.issued"}
    assert secret not in dumped
    assert page.list.rowCount() == 1 and page.list.item(0, 3).text() == "订单已发货、发票已开具"
    shot(admin, "webhooks-saved")

    page.list.selectRow(0)  # rotate: a new secret, the old one kept signing while the ERP catches up
    assert page.code.isReadOnly() and page.code.text() == "erpnext"
    page.rotate()
    assert page.message.text().startswith("已为「erpnext」生成新密钥")
    rotated = FileStore(tmp_path / "secrets.json").get("orderhub:erp:erpnext")
    assert rotated.app_secret != secret and rotated.extra["previous"] == secret


def test_a_bad_erp_address_is_refused_in_words_and_nothing_is_saved(admin, hub):
    page = admin.show_page("webhooks")
    page.code.setText("erp2")
    page.url.setText("ftp://erp.example.com")
    page.save()
    assert page.message.text() == "推送地址必须以 http:// 或 https:// 开头"
    with hub.uow() as uow:
        assert uow.session.execute(sa.text("SELECT count(*) FROM erp_endpoints")).scalar_one() == 0


def test_only_the_administrator_may_save_an_erp_endpoint_whoever_opened_the_page(qtbot, hub, tmp_path, fonts):
    station = AdminStation(hub.uow, Actor("xiaomei", "客服工作台-01", "10.20.1.17"),
                           credentials=FileStore(tmp_path / "secrets.json"), settings=Settings(data_dir=tmp_path),
                           config_path=tmp_path / "config.toml")
    qtbot.addWidget(station)
    page = station.show_page("webhooks")
    page.code.setText("erpnext")
    page.url.setText("https://erp.example.com/hook")
    page.save()
    assert "没有「" in page.message.text() and "权限" in page.message.text(), page.message.text()
    assert FileStore(tmp_path / "secrets.json").get("orderhub:erp:erpnext") is None
    with hub.uow() as uow:
        assert uow.session.execute(sa.text("SELECT count(*) FROM erp_endpoints")).scalar_one() == 0
    station.shutdown()
