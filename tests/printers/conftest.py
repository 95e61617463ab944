"""Slips to print in the printer tests: a typical order, a long one, a reprint, rare characters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.slip import PickSlip, SlipLine

NAMES = [
    ("儿童加绒卫衣 恐龙印花", "燕麦色", "110cm"),
    ("女童公主风连衣裙（春款）", "樱花粉", "120cm"),
    ("男童工装束脚裤", "军绿", "130cm"),
    ("婴儿纯棉连体衣 三件装", "白色", "73cm"),
    ("儿童防滑地板袜", "混色", "S"),
    ("亲子款羽绒马甲", "藏青", "140cm"),
    ("宝宝学步鞋 软底", "米白", "13.5"),
    ("儿童冲锋衣 三合一", "橙色", "150cm"),
    ("女童毛线帽围巾套装", "酒红", "均码"),
    ("男童圆领T恤 2件装", "灰/蓝", "100cm"),
]


def make_line(i: int, *, name: str | None = None, gift: bool = False) -> SlipLine:
    base, color, size = NAMES[i % len(NAMES)]
    zone = "ABCDEF"[i % 6]
    return SlipLine(
        sku_code=f"XSM-{2600 + i:04d}-{size.replace('cm', '')}",
        barcode=f"69{i:011d}" if i % 2 else f"XSM{2600 + i:04d}{i % 7}",
        name=name or base,
        color=color,
        size=size,
        quantity=1 + i % 3,
        bin_code=f"{zone}-{i % 9 + 1:02d}-{i % 5 + 1:02d}-{i % 4 + 1}",
        bin_coords=f"{zone}区 {i % 9 + 1}排 {i % 5 + 1}架 {i % 4 + 1}层",
        pick_sequence=(i * 37) % 101,
        is_gift=gift,
    )


def make_slip(n_lines: int = 6, *, order_no: str = "TB2026112500001234", reprint: bool = False,
              name: str | None = None, **kw) -> PickSlip:
    lines = tuple(make_line(i, name=name if i == 0 else None, gift=(i == n_lines - 1 and n_lines > 3))
                  for i in range(n_lines))
    defaults = dict(
        platform="淘宝/天猫", shop="小树苗童装旗舰店", warehouse="杭州仓", priority="加急",
        ship_by=datetime(2026, 11, 25, 10, 0, tzinfo=UTC), lines=lines,
        gifts=("满299送袜子 ×1",), notes=("请勿放干燥剂", "赠品多塞一双袜子"),
        wave_no="W20261125-03", picker="张晓燕", reprint=reprint,
        reprint_reason="原单卡纸" if reprint else None,
        printed_at=datetime(2026, 11, 25, 1, 30, tzinfo=UTC),
    )
    defaults.update(kw)
    return PickSlip(order_no=order_no, **defaults)


@pytest.fixture
def typical_slip() -> PickSlip:
    return make_slip(6)
