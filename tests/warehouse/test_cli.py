"""`orderhub wave create|list`, `orderhub print-slip` (both forms decoded back), `orderhub scan`, `orderhub notices`."""

from __future__ import annotations

import argparse

import pytest
import zxingcpp
from PIL import Image

from app.cli.warehouse import HANDLERS, register
from app.domain.slip import ORDER_QR_PREFIX, PROGRESS_QR_PREFIX
from app.settings import Settings
from tests.conftest import sign_in_cli
from printers.escpos_parse import parse
from tests.warehouse.world import BARCODE, make_order


def run(hub, tmp_path, capsys, *argv, lang="zh"):
    parser = argparse.ArgumentParser(prog="orderhub")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    settings = Settings(database_url=hub.engine.url.render_as_string(hide_password=False), data_dir=tmp_path,
                        station_name="仓库工作台-01")
    if getattr(args, "operator", None):  # acting commands need a signed-in person (issue #14)
        sign_in_cli(settings, args.operator)
    code = HANDLERS[args.command](args, settings, lang)
    return code, capsys.readouterr().out


def test_wave_create_and_list_on_the_command_line(wh, tmp_path, capsys):
    nos = [make_order(wh, [("T2601-01-110", 1)]) for _ in range(3)]
    code, out = run(wh.hub, tmp_path, capsys, "wave", "create", "--warehouse", "HZ", "--max-orders", "2",
                    "--operator", "wang.lead")
    assert code == 0 and "已创建：2 单、2 件（杭州自营仓，库区 B）" in out and nos[0] in out and nos[2] not in out
    code, out = run(wh.hub, tmp_path, capsys, "wave", "list", "--warehouse", "杭州自营仓")
    assert code == 0 and "波次号" in out and "拣货中" in out and "0/2" in out and "wang.lead" in out


@pytest.mark.parametrize("profile", ["a5", "80mm", "58mm"])
def test_print_slip_writes_escpos_and_a_preview_that_both_decode_to_the_order(wh, tmp_path, capsys, profile, shots):
    order_no = make_order(wh, [("T2601-01-110", 1), ("J2603-02-130", 2)], buyer_note="请勿放干燥剂",
                          gift=("GIFT-SOCK-01-M", 1))
    out, preview = tmp_path / "slip.bin", tmp_path / "slip.png"
    code, text = run(wh.hub, tmp_path, capsys, "print-slip", order_no, "--out", str(out), "--preview", str(preview),
                     "--profile", profile, "--picker", "li.sf")
    assert code == 0 and "拣货单已写入" in text
    printed = parse(out.read_bytes())
    assert ORDER_QR_PREFIX + order_no in printed.qr and PROGRESS_QR_PREFIX + "li.sf" in printed.qr
    # pick-path order: zone A, then B, then the gift in C
    assert printed.barcodes == [BARCODE["J2603-02-130"], BARCODE["T2601-01-110"], BARCODE["GIFT-SOCK-01-M"]]
    body = "\n".join(printed.lines)
    assert order_no in body and "请勿放干燥剂" in body and "A-03-01-2" in body
    Image.open(preview).save(shots / f"warehouse_slip_{profile}.png")
    seen = {r.text for r in zxingcpp.read_barcodes(Image.open(preview))}
    assert {ORDER_QR_PREFIX + order_no, PROGRESS_QR_PREFIX + "li.sf", BARCODE["J2603-02-130"],
            BARCODE["T2601-01-110"]} <= seen


def test_scan_and_notices_on_the_command_line(wh, tmp_path, capsys):
    order_no = make_order(wh, [("T2601-01-110", 1)])
    code, out = run(wh.hub, tmp_path, capsys, "scan", ORDER_QR_PREFIX + order_no, "--operator", "li.sf")
    assert code == 0 and f"开始拣货：订单 {order_no}" in out and "B-02-01-1" in out
    code, out = run(wh.hub, tmp_path, capsys, "scan", BARCODE["W2602-01-120"], "--operator", "li.sf")
    assert code == 3 and "拿错了" in out
    code, out = run(wh.hub, tmp_path, capsys, "notices", "list")
    assert code == 0 and out == ""


def test_wave_print_sends_the_slips_to_the_printer_in_the_settings(wh, tmp_path, capsys):
    from dataclasses import replace

    from tests.printers.fake_printer import FakePrinter
    from tests.warehouse.world import LEAD

    from app.services import waves

    fake = FakePrinter()
    try:
        nos = [make_order(wh, [("T2601-01-110", 1)]) for _ in range(2)]
        wave = waves.create_wave(wh.hub.uow(), "HZ", LEAD)
        parser = argparse.ArgumentParser(prog="orderhub")
        register(parser.add_subparsers(dest="command", required=True))
        settings = replace(Settings(database_url=wh.hub.engine.url.render_as_string(hide_password=False),
                                    data_dir=tmp_path, station_name="仓库工作台-01"),
                           slip_printer=f"network:127.0.0.1:{fake.port}", slip_profile="80mm")
        args = parser.parse_args(["wave", "print", wave.wave_no, "--operator", "chen.bz"])
        sign_in_cli(settings, "chen.bz")
        assert HANDLERS["wave"](args, settings, "zh") == 0
        out = capsys.readouterr().out
        assert f"波次 {wave.wave_no}：2 张拣货单已送往打印机" in out and "打印机正常" in out
        stream = parse(b"".join(bytes(c) for c in fake.connections))
        assert [q for q in stream.qr if q.startswith(ORDER_QR_PREFIX)] == [ORDER_QR_PREFIX + n for n in nos]
        fake.state = "paper_out"
        args = parser.parse_args(["wave", "reprint", nos[0], "--operator", "chen.bz", "--reason", "单子掉地上踩脏了"])
        assert HANDLERS["wave"](args, settings, "zh") == 4
        assert "打印机缺纸" in capsys.readouterr().out
    finally:
        fake.close()
