"""Printer set-up (saved to the station's config, a test slip to the fake TCP printer) and platform field definitions."""

from __future__ import annotations


import pytest
import sqlalchemy as sa

from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.services import field_defs, printer_setup
from app.services.field_defs import FieldDefView
from app.services.printer_setup import PrinterChoice
from app.settings import load_settings
from printers.escpos_parse import parse
from tests.printers.fake_printer import FakePrinter

ADMIN = Actor("liu.gong", "配置工作站-01", "10.20.1.8")


@pytest.fixture
def printer():
    fake = FakePrinter()
    yield fake
    fake.close()


def test_the_printer_is_saved_into_the_station_config_and_read_back_at_start(hub, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[orderhub]\nlanguage = "zh"\nstation_name = "仓库工作站-02"\n', encoding="utf-8")
    said = printer_setup.save_printer(hub.uow(), config, PrinterChoice("network", "192.168.1.50:9100", "80mm"), ADMIN)
    assert said.startswith("打印机设置已保存到本工作站")
    settings = load_settings(env={}, config_file=config)
    assert (settings.slip_printer, settings.slip_profile, settings.station_name) == (
        "network:192.168.1.50:9100", "80mm", "仓库工作站-02")  # the other settings are kept
    assert printer_setup.current(settings) == PrinterChoice("network", "192.168.1.50:9100", "80mm")
    with hub.engine.connect() as conn:
        after = conn.scalar(sa.text("SELECT after FROM audit_log WHERE action = 'station.printer_set'"))
    assert after == {"slip_printer": "network:192.168.1.50:9100", "slip_profile": "80mm"}


@pytest.mark.parametrize(("choice", "said"), [
    (PrinterChoice("network", "  ", "80mm"), "请填写打印机地址"),
    (PrinterChoice("usb", "vendor:product", "80mm"), "应为 network:地址:端口"),
    (PrinterChoice("network", "10.0.0.9", "A4"), "纸张规格"),
])
def test_a_printer_that_names_nothing_is_refused_in_words_and_not_saved(hub, tmp_path, choice, said):
    with pytest.raises(BusinessError) as refused:
        printer_setup.save_printer(hub.uow(), tmp_path / "config.toml", choice, ADMIN)
    assert said in refused.value.message()
    assert not (tmp_path / "config.toml").exists()


def test_a_test_slip_reaches_the_network_printer_and_reads_back_in_chinese(hub, printer):
    result = printer_setup.print_test_slip(hub.uow(), PrinterChoice("network", f"127.0.0.1:{printer.port}", "58mm"), ADMIN)
    assert result.printed, result.message
    assert result.message == f"测试页已打印到「127.0.0.1:{printer.port}」（58 毫米热敏）"
    slip = parse(bytes(printer.connections[0]))
    text = "\n".join(slip.lines)
    assert "打印测试" in text and "能清楚看到中文" in text
    assert slip.barcodes and slip.cuts == 1


def test_a_test_slip_to_a_printer_without_paper_says_so(hub, printer):
    printer.state = "paper_out"
    result = printer_setup.print_test_slip(hub.uow(), PrinterChoice("network", f"127.0.0.1:{printer.port}", "80mm"), ADMIN)
    assert not result.printed
    assert result.message == "测试页没有打印：打印机缺纸，请装纸后再试"


def test_a_test_slip_to_a_printer_that_is_off_says_it_cannot_be_reached(hub, printer):
    port = printer.port
    printer.close()
    result = printer_setup.print_test_slip(hub.uow(), PrinterChoice("network", f"127.0.0.1:{port}", "80mm"), ADMIN, timeout=1)
    assert not result.printed and result.message.startswith(f"测试页没有打印：连不上打印机「127.0.0.1:{port}」（")
    assert "仍在队列中" not in result.message


def test_a_test_slip_to_a_file_writes_the_escpos_bytes(hub, tmp_path):
    out = tmp_path / "slip.bin"
    assert printer_setup.print_test_slip(hub.uow(), PrinterChoice("file", str(out), "a5"), ADMIN).printed
    assert "打印测试" in "\n".join(parse(out.read_bytes()).lines)


def test_a_platform_field_gets_new_business_names_and_type_audited(hub):
    saved = field_defs.save_field_def(hub.uow(), FieldDefView("douyin", "author_id", " 达人ID ", "Creator ID", "text", 3),
                                      ADMIN)
    assert saved.label_zh == "达人ID"
    field_defs.save_field_def(hub.uow(), FieldDefView("douyin", "author_id", "带货达人", "Creator", "text", 3), ADMIN)
    assert [(d.key, d.label_zh) for d in field_defs.list_field_defs(hub.uow(), "douyin")] == [("author_id", "带货达人")]
    with hub.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT before FROM audit_log WHERE action = 'field_def.save' ORDER BY id")).scalars().all()
    assert before == [None, {"label_zh": "达人ID", "label_en": "Creator ID", "value_type": "text", "sort_order": 3}]


@pytest.mark.parametrize(("draft", "said"), [
    (FieldDefView("douyin", "author_id", "", "Creator", "text"), "中文名称和英文名称都要填写"),
    (FieldDefView("douyin", "author id; drop", "达人", "Creator", "text"), "平台字段"),
    (FieldDefView("douyin", "author_id", "达人", "Creator", "money"), "值类型"),
])
def test_a_field_definition_without_names_or_with_a_bad_key_is_refused(hub, draft, said):
    with pytest.raises(BusinessError) as refused:
        field_defs.save_field_def(hub.uow(), draft, ADMIN)
    assert said in refused.value.message()
