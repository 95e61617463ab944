"""Pick-slip figures: a 500-order wave laid out and rendered to ESC/POS bytes and to preview images.

Run: /work/venv/bin/python tests/benchmarks/bench_slips.py [--orders 500] [--profile a5_6inch]

1. Bytes: every slip of the wave laid out for the profile and rendered to ESC/POS (what the
   station sends when the lead prints a wave). Target: under 5 s for 500 orders.
   The whole wave is parsed back afterwards (outside the timing) to check every order's QR and
   every SKU barcode made it into the bytes.
2. Preview: the same layouts rendered to images (the on-screen preview), timed separately.
3. Also the 80 mm and 58 mm profiles' bytes, for comparison.
If tests/benchmarks/bench_scan.py exists with ``measure()`` returning a dict (the warehouse
engineer's scan-to-confirmation figure), its figures are merged into the JSON line.

Prints a human summary, then one JSON line (last) with every figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.domain.slip import PickSlip, SlipLine  # noqa: E402
from printers.escpos_parse import parse  # noqa: E402
from printers.escpos_render import render_escpos  # noqa: E402
from printers.layout import lay_out  # noqa: E402
from printers.preview import render_pages  # noqa: E402
from printers.profiles import PROFILES  # noqa: E402

STYLES = ["加绒卫衣", "公主连衣裙", "工装束脚裤", "纯棉连体衣", "防滑地板袜", "羽绒马甲", "学步鞋", "冲锋衣",
          "毛线帽围巾套装", "圆领T恤", "背带裤", "摇粒绒外套", "打底裤", "睡衣套装", "雪地靴", "牛仔外套"]
PREFIX = ["儿童", "女童", "男童", "婴儿", "宝宝", "亲子款", "中大童"]
PRINTS = ["恐龙印花", "小熊刺绣", "条纹", "纯色", "碎花", "字母款", "卡通", ""]
COLORS = ["燕麦色", "樱花粉", "军绿", "藏青", "米白", "酒红", "雾霾蓝", "奶咖", "黑色", "灰/蓝"]
SIZES = ["66cm", "73cm", "80cm", "90cm", "100cm", "110cm", "120cm", "130cm", "140cm", "150cm", "均码"]
PLATFORMS = [("淘宝/天猫", "小树苗童装旗舰店", "TB"), ("抖店", "小树苗童装抖音旗舰店", "DY"),
             ("微信小店", "小树苗童装微信小店", "WX"), ("拼多多", "小树苗童装拼多多店", "PD")]
GIFTS = ["满299送袜子 ×1", "新客礼：发夹 ×2", "好评返现卡 ×1", "满199送口水巾 ×1"]
NOTES = ["请勿放干燥剂", "赠品多塞一双袜子", "送人的，不要放价格单", "请用纸箱，不要用袋子", "两件分开装",
         "尺码偏小，已确认要大一码", "加急！今天必须发出"]


def wave(n: int, seed: int = 8) -> list[PickSlip]:
    """``n`` orders as the warehouse sees them: 3–8 lines, gifts on a third, notes on half."""
    rng = random.Random(seed)
    anchor = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    slips = []
    for i in range(n):
        platform, shop, code = rng.choice(PLATFORMS)
        lines = []
        for j in range(rng.randint(3, 8)):
            zone, row, shelf, level = rng.choice("ABCDEF"), rng.randint(1, 20), rng.randint(1, 8), rng.randint(1, 5)
            sku = rng.randint(1000, 9999)
            lines.append(SlipLine(
                sku_code=f"XSM-{sku}-{j}", barcode=f"69{rng.randint(10**10, 10**11 - 1)}" if rng.random() < .6 else f"XSM{sku}{j}",
                name=f"{rng.choice(PREFIX)}{rng.choice(STYLES)} {rng.choice(PRINTS)}".strip(),
                color=rng.choice(COLORS), size=rng.choice(SIZES), quantity=rng.choice([1, 1, 1, 2, 3]),
                bin_code=f"{zone}-{row:02d}-{shelf:02d}-{level}", bin_coords=f"{zone}区 {row}排 {shelf}架 {level}层",
                pick_sequence="ABCDEF".index(zone) * 1000 + row * 40 + shelf * 5 + level,
                is_gift=j == 0 and rng.random() < .1,
            ))
        slips.append(PickSlip(
            order_no=f"{code}20261125{i:08d}", platform=platform, shop=shop, warehouse="杭州仓",
            priority=rng.choice(["普通", "普通", "加急"]), ship_by=anchor + timedelta(hours=rng.randint(2, 30)),
            lines=tuple(lines), gifts=tuple(rng.sample(GIFTS, 1)) if rng.random() < .33 else (),
            notes=tuple(rng.sample(NOTES, rng.randint(1, 2))) if rng.random() < .5 else (),
            wave_no="W20261125-03", picker=f"P{rng.randint(1, 12):03d}", printed_at=anchor,
        ))
    return slips


def bytes_for(slips: list[PickSlip], key: str) -> tuple[float, list[bytes]]:
    started = time.perf_counter()
    out = [render_escpos(lay_out(slip, PROFILES[key])) for slip in slips]
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--profile", default="a5_6inch", choices=sorted(PROFILES))
    args = parser.parse_args()
    slips = wave(args.orders)
    lines = sum(len(s.lines) for s in slips)
    render_escpos(lay_out(slips[0], PROFILES[args.profile]))  # fonts, profile data, caches: not the wave's cost

    seconds, streams = bytes_for(slips, args.profile)
    total = sum(map(len, streams))
    # Checked outside the timing: every order's QR and every SKU barcode is in the bytes.
    missing = 0
    for slip, stream in zip(slips, streams, strict=True):
        got = parse(stream)
        missing += slip.order_qr not in got.qr
        missing += len({line.barcode for line in slip.lines} - set(got.barcodes))
    pages = sum(len(lay_out(s, PROFILES[args.profile]).pages) for s in slips)
    print(f"{args.orders} orders, {lines} lines → ESC/POS for {args.profile}: {seconds:.2f} s "
          f"({total / 1e6:.2f} MB, {total // args.orders} bytes/order, {pages} pages), "
          f"target < 5 s: {'met' if seconds < 5 else 'MISSED'}; codes missing after parsing back: {missing}")

    started = time.perf_counter()
    for slip in slips:
        render_pages(lay_out(slip, PROFILES[args.profile]))
    preview_seconds = time.perf_counter() - started
    print(f"preview images for the same wave: {preview_seconds:.2f} s ({preview_seconds / args.orders * 1000:.1f} ms/order)")

    others = {}
    for key in ("80mm", "58mm"):
        s, out = bytes_for(slips, key)
        others[key] = {"seconds": round(s, 3), "bytes": sum(map(len, out))}
        print(f"ESC/POS for {key}: {s:.2f} s ({others[key]['bytes'] / 1e6:.2f} MB)")

    figures = {
        "orders": args.orders, "lines": lines, "profile": args.profile,
        "escpos_seconds": round(seconds, 3), "escpos_bytes": total, "escpos_target_seconds": 5,
        "escpos_target_met": seconds < 5, "pages": pages, "codes_missing": missing,
        "preview_seconds": round(preview_seconds, 3), "other_profiles": others,
    }
    scan = REPO / "tests" / "benchmarks" / "bench_scan.py"
    if scan.exists():
        spec = importlib.util.spec_from_file_location("bench_scan", scan)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "measure"):
            figures.update(module.measure())
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
