"""The demo company 小树苗童装, generated reproducibly from a seed: same seed and anchor, same rows.

Pure generation (no database): every table comes out as plain row dicts with explicit ids,
so the seeder can COPY them and a test can compare two runs value by value.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from app.domain.address import load_regions
from app.domain.clock import CST
from app.domain.money import CENT, apportion

CATALOGUE = Path(__file__).resolve().parents[2] / "resources" / "demo" / "company.json"
GIFT_THRESHOLD = Decimal("299.00")
HOURLY_WEIGHTS = [1, 1, 0.5, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.5, 4.5, 4.2, 3.8, 3.5, 3.6, 3.8, 3.7, 3.5, 3.8, 4.8,
                  6.0, 6.5, 5.0, 2.5]


@cache
def catalogue() -> dict[str, Any]:
    """The demo company's fixed facts: shops, warehouses, styles, names (resources/demo/company.json)."""
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))


# Hand rescues the demo's history holds: (audit action, who, basis).
RESCUES = (
    ("order.expedite", "zhou.zj", "主管加急插队：买家催发货，旺旺工单 #{n}"),
    ("order.expedite", "chen.bz", "班长插队：临近最晚发货时间，波次 WV{n}"),
    ("order.warehouse_change", "chen.bz", "人工改仓：杭州自营仓缺货，改由合肥云仓发货（调拨单 TB{n}）"),
    ("slip.reprint", "chen.bz", "拣货单丢失，补打（打印任务 {n}）"),
    ("order.status_override", "wang.zz", "人工改环节：仓库系统未回传，按出库单 CK{n} 手工置为已发货"),
)


@dataclass
class DemoCompany:
    """All generated rows, table by table, in the order they must be inserted."""

    seed: int
    anchor: datetime
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    # Orders the warehouse is working on are not written as 配货中: they arrive paid and the
    # seeder routes them through the real rules, so their warehouse, reservation and trace agree.
    to_route: list[str] = field(default_factory=list)
    # shipped orders whose platform still says 待发货 (the ship notice never reached it)
    platform_behind: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()} | {"audit_log": len(self.audit)}


def ean13(body12: str) -> str:
    """An EAN-13 barcode with its check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


class _Generator:
    def __init__(self, seed: int, anchor: datetime, n_orders: int) -> None:
        self.rng = random.Random(seed)
        # 订单健康度's history (late parcels, hand rescues) draws from its own stream, so adding it left
        # every other demo fact as it was for the same seed
        self.health_rng = random.Random(seed * 31 + 16)
        self.anchor = anchor
        self.n_orders = n_orders
        self.cat = catalogue()
        self.regions = load_regions()
        self.out = DemoCompany(seed, anchor)
        self.t = self.out.tables

    # --- master data -------------------------------------------------------------------------
    def master(self) -> None:
        cat = self.cat
        self.t["users"] = [{"id": i, **u} for i, u in enumerate(cat["users"], 1)]
        self.t["shops"] = [
            {"id": i, "code": s["code"], "name": s["name"], "platform": s["platform"],
             "platform_shop_id": _digits(self.rng, 9), "poll_interval_s": 15,
             "credentials_ref": f"orderhub:shop:{s['code']}"}
            for i, s in enumerate(cat["shops"], 1)
        ]
        self.t["warehouses"] = [
            {"id": i, **{k: w[k] for k in ("code", "name", "kind", "province", "city", "address")}}
            for i, w in enumerate(cat["warehouses"], 1)
        ]
        self.t["platform_field_defs"] = [
            {"platform": p, "key": k, "label_zh": zh, "label_en": en, "value_type": vt, "sort_order": n}
            for p, defs in cat["ext_fields"].items() for n, (k, zh, en, vt) in enumerate(defs)
        ]
        skus: list[dict[str, Any]] = []
        for s_no, style in enumerate(cat["styles"]):
            for c_no, color in enumerate(style["colors"]):
                for size in cat["sizes"]:
                    skus.append({"style_code": style["code"], "name": style["name"], "color": color, "size": size,
                                 "price": Decimal(style["price"]), "is_gift_item": False,
                                 "sku_code": f"{style['code']}-{c_no + 1:02d}-{size}",
                                 "barcode": ean13(f"693{s_no + 1:03d}{c_no + 1:02d}{int(size):04d}")})
        gift = cat["gift"]
        for c_no, color in enumerate(gift["colors"]):
            for s_no, size in enumerate(gift["sizes"]):
                skus.append({"style_code": gift["code"], "name": gift["name"], "color": color, "size": size,
                             "price": Decimal(gift["price"]), "is_gift_item": True,
                             "sku_code": f"{gift['code']}-{c_no + 1:02d}-{size}",
                             "barcode": ean13(f"6939990{c_no + 1:02d}{s_no + 1:03d}")})
        self.t["skus"] = [{"id": i, **s} for i, s in enumerate(skus, 1)]
        self.sellable = [s for s in self.t["skus"] if not s["is_gift_item"]]
        self.barcode_of = {s["sku_code"]: s["barcode"] for s in self.t["skus"]}
        self.gifts = [s for s in self.t["skus"] if s["is_gift_item"]]
        self._bins_and_stock()

    def _bins_and_stock(self) -> None:
        bins, stock = [], []
        self.stock_index: dict[tuple[int, int], dict[str, Any]] = {}
        for wh in self.t["warehouses"]:
            carried = self.t["skus"] if wh["code"] == "HZ" else [
                s for s in self.t["skus"] if s["is_gift_item"] or self.rng.random() < 0.7]
            seq = 0
            for n, sku in enumerate(carried):
                zone = "ABCD"[n // 80 % 4]
                aisle, rack, level = n % 80 // 10 + 1, n % 10 // 2 + 1, n % 2 + 1
                seq += 1
                bin_row = {"id": len(bins) + 1, "warehouse_id": wh["id"], "code": f"{zone}-{aisle:02d}-{rack:02d}-{level}",
                           "zone": zone, "aisle": aisle, "rack": rack, "level": level,
                           "x": Decimal("4.00") * ("ABCD".index(zone) * 9 + aisle),
                           # serpentine: odd aisles walk up, even aisles walk down
                           "y": Decimal("1.50") * (rack if aisle % 2 else 6 - rack), "pick_sequence": seq}
                bins.append(bin_row)
                on_hand = 0 if self.rng.random() < 0.06 else self.rng.randint(3, 160)
                row = {"id": len(stock) + 1, "sku_id": sku["id"], "warehouse_id": wh["id"], "bin_id": bin_row["id"],
                       "on_hand": on_hand, "reserved": 0, "safety_stock": self.rng.choice([5, 8, 10, 12, 15])}
                stock.append(row)
                self.stock_index[(sku["id"], wh["id"])] = row
        self.t["bins"], self.t["stock"] = bins, stock

    # --- people and places ----------------------------------------------------------------------
    def _person(self) -> tuple[str, str]:
        name = self.rng.choice(self.cat["surnames"]) + self.rng.choice(self.cat["given_names"])
        phone = self.rng.choice(["13", "15", "17", "18", "19"]) + _digits(self.rng, 9)
        return name, phone

    def _place(self) -> tuple[dict[str, Any], dict[str, Any], str, str]:
        provinces = self.regions.provinces
        if not hasattr(self, "_unvisited"):
            self._unvisited = list(provinces)  # every province gets at least one order, even 西藏 and 澳门
        if self._unvisited and self.rng.random() < 0.05:
            province = self._unvisited.pop()
        else:
            province = self.rng.choices(provinces, weights=[p.weight for p in provinces])[0]
            if province in self._unvisited:
                self._unvisited.remove(province)
        city = self.rng.choice(province.cities)
        district = self.rng.choice(city.districts)
        street = self.rng.choice(city.streets) if city.streets else "人民路"
        return province, city, district, f"{street}{self.rng.randint(1, 999)}号"

    # --- orders --------------------------------------------------------------------------------
    def orders(self) -> None:
        rng, cat = self.rng, self.cat
        shops = self.t["shops"]
        shop_weights = [s["share"] for s in cat["shops"]]
        wh_by_region = {r: w for w in self.t["warehouses"] for src in cat["warehouses"] if src["code"] == w["code"]
                        for r in src["serves"]}
        self.carrier_of = {w["code"]: w["carrier"] for w in cat["warehouses"]}
        repeat_pool = [f"C{_digits(rng, 10)}" for _ in range(max(20, self.n_orders // 25))]
        orders, ext, ships, events, invoices, cases = [], [], [], [], [], []
        self.t.update(orders=orders, order_ext_attrs=ext, shipments=ships, tracking_events=events,
                      invoices=invoices, after_sales_cases=cases)
        for n in range(1, self.n_orders + 1):
            shop = rng.choices(shops, weights=shop_weights)[0]
            ordered_at = self._moment()
            order = self._order(n, shop, ordered_at, repeat_pool, wh_by_region)
            orders.append(order)
            ext.extend(self._ext(order))
        for order in list(orders):
            self._afterlife(order)

    def _moment(self) -> datetime:
        rng = self.rng
        while True:
            day = rng.randrange(7)
            hour = rng.choices(range(24), weights=HOURLY_WEIGHTS)[0]
            local_day = (self.anchor.astimezone(CST) - timedelta(days=day)).replace(
                hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)
            if local_day < self.anchor:
                return local_day.astimezone(self.anchor.tzinfo)

    def _platform_no(self, platform: str, shop: dict[str, Any], at: datetime, n: int) -> str:
        rng, local = self.rng, at.astimezone(CST)
        return {
            "taobao": lambda: "3" + _digits(rng, 18),
            "tmall": lambda: "4" + _digits(rng, 18),
            "douyin": lambda: "69" + _digits(rng, 17),
            "wechat": lambda: "3718" + _digits(rng, 15),
            "pdd": lambda: local.strftime("%y%m%d-") + _digits(rng, 15),
            # a till numbers its receipts; the order number keeps them unique across the week
            "pos": lambda: shop["code"].split("-", 1)[1].replace("-", "") + local.strftime("%Y%m%d") + f"{n:05d}",
        }[platform]()

    def _order(self, n: int, shop: dict[str, Any], ordered_at: datetime, repeat_pool: list[str],
               wh_by_region: dict[str, dict[str, Any]]) -> dict[str, Any]:
        rng = self.rng
        platform = shop["platform"]
        lines = rng.sample(self.sellable, rng.choices([1, 2, 3], weights=[60, 30, 10])[0])
        items = [{"line_no": i, "sku": s["sku_code"], "name": s["name"], "color": s["color"], "size": s["size"],
                  "qty": rng.choices([1, 2], weights=[85, 15])[0], "unit_price": s["price"], "is_gift": False,
                  "line_status": "normal"} for i, s in enumerate(lines, 1)]
        original = sum((it["unit_price"] * it["qty"] for it in items), Decimal(0))
        discount = self._discount(platform, original)
        paid = max(original - discount, CENT)
        for it, share in zip(items, apportion(paid, [it["unit_price"] * it["qty"] for it in items]), strict=True):
            it["paid"] = share
        if paid >= GIFT_THRESHOLD:  # 满299赠袜子
            gift = rng.choice(self.gifts)
            items.append({"line_no": len(items) + 1, "sku": gift["sku_code"], "name": gift["name"], "color": gift["color"],
                          "size": gift["size"], "qty": 1, "unit_price": Decimal("0.00"), "paid": Decimal("0.00"),
                          "is_gift": True, "line_status": "normal"})
        age_h = (self.anchor - ordered_at).total_seconds() / 3600
        status = self._status(platform, age_h)
        picking = status == "allocating"
        if picking:
            status = "paid"
        paid_at = None if status == "pending_payment" else ordered_at + timedelta(seconds=rng.randint(5, 600))
        province, city, district, street = self._place()
        name, phone = self._person()
        masked = platform in ("taobao", "tmall", "douyin", "pdd")
        order = {
            "id": n, "order_no": f"OH{ordered_at.astimezone(CST):%y%m%d}{n:06d}", "platform": platform,
            "platform_order_no": self._platform_no(platform, shop, ordered_at, n), "shop_id": shop["id"],
            "ordered_at": ordered_at, "paid_at": paid_at,
            "customer_id": rng.choice(repeat_pool) if rng.random() < 0.2 else f"C{_digits(rng, 10)}",
            "items": items, "original_amount": original, "paid_amount": paid, "status": status,
            "tracking_no": None, "invoice_status": "none",
            "receiver_name": None, "receiver_phone": None, "receiver_phone_tail": None, "receiver_address": None,
            "receiver_token": None, "province": None, "city": None, "district": None, "warehouse_id": None,
            "ship_by": None, "buyer_note": rng.choice(self.cat["buyer_notes"]) if rng.random() < 0.12 else None,
            "seller_note": None, "platform_updated_at": paid_at or ordered_at, "version": 1,
            # when the hub stored it: seconds after the platform's stamp, minutes for the throttled 抖店 live shop
            "created_at": (paid_at or ordered_at) + timedelta(
                seconds=self.health_rng.uniform(120, 900) if shop["code"] == "DY-LIVE" else self.health_rng.uniform(4, 75)),
        }
        if platform != "pos":
            order.update(
                receiver_name=name[0] + "**" if masked else name,
                receiver_phone=f"{phone[:3]}****{phone[-4:]}" if masked else phone,
                receiver_phone_tail=phone[-4:],
                receiver_address=(f"{province.name}{city.name}{district}{street[:-2]}***" if masked
                                  else f"{province.name}{city.name}{district}{street}"),
                receiver_token=("AAH" + _digits(rng, 20)) if masked else None,
                province=province.name, city=city.name, district=district,
                ship_by=(paid_at + timedelta(hours=48 if rng.random() > 0.05 else 24 * 7)) if paid_at else None,
            )
            if status not in ("pending_payment", "paid", "cancelled"):
                wh = wh_by_region.get(province.region, self.t["warehouses"][0])
                if wh["code"] == "HZ" and rng.random() < 0.1:
                    wh = self.t["warehouses"][1]  # overflow to 合肥云仓
                order["warehouse_id"] = wh["id"]
        if platform == "wechat" and status not in ("pending_payment", "cancelled"):
            order["invoice_status"] = "pending"
        if picking:
            self.out.to_route.append(order["order_no"])
        return order

    def _discount(self, platform: str, original: Decimal) -> Decimal:
        rng = self.rng
        if platform in ("taobao", "tmall"):
            return Decimal(rng.choice([0, 0, 10, 20, 30])) if original >= 199 else Decimal(rng.choice([0, 5]))
        if platform == "douyin":
            return Decimal(rng.choice([0, 5, 10, 15, 30]))
        if platform == "pdd":
            return (original * Decimal(rng.choice(["0.08", "0.10", "0.15"]))).quantize(CENT)
        if platform == "pos":
            return (original * Decimal("0.05")).quantize(CENT) if rng.random() < 0.4 else Decimal(0)
        return Decimal(rng.choice([0, 0, 10]))

    def _status(self, platform: str, age_h: float) -> str:
        rng = self.rng
        if platform == "pos":
            return "completed"
        if age_h < 0.5 and rng.random() < 0.5:
            return "pending_payment"
        if rng.random() < 0.05:
            return "cancelled"
        if age_h < 4:
            return rng.choices(["paid", "allocating"], weights=[60, 40])[0]
        if age_h < 24:
            return rng.choices(["allocating", "shipped"], weights=[30, 70])[0]
        if age_h < 72:
            return rng.choices(["shipped", "completed", "after_sales"], weights=[77, 20, 3])[0]
        return rng.choices(["completed", "shipped", "after_sales"], weights=[65, 30, 5])[0]

    def _ext(self, order: dict[str, Any]) -> list[dict[str, Any]]:
        rng, p = self.rng, order["platform"]
        values: dict[str, str] = {}
        if p in ("taobao", "tmall"):
            if rng.random() < 0.35:
                values["taoke_pid"] = f"mm_{_digits(rng, 9)}_{_digits(rng, 10)}_{_digits(rng, 11)}"
            if rng.random() < 0.5:
                values["coupon_id"] = _digits(rng, 12)
            if order["receiver_token"]:
                values["oaid"] = order["receiver_token"]
            if p == "tmall":
                values["member_level"] = rng.choice(["普通会员", "银卡会员", "金卡会员", "钻石会员"])
        elif p == "douyin":
            if rng.random() < 0.7:
                values["author_commission_rate"] = rng.choice(["10", "15", "20", "25", "30"])
                values["author_name"] = rng.choice(["萌娃穿搭日记", "宝妈小鱼", "童装买手阿May", "奶爸说好物"])
                if rng.random() < 0.5:
                    values["video_id"] = "7" + _digits(rng, 18)
                else:
                    values["live_room_id"] = "7" + _digits(rng, 18)
        elif p == "wechat":
            if rng.random() < 0.3:
                values["sharer_openid"] = "o" + "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789_-") for _ in range(27))
            if rng.random() < 0.4:
                values["finder_id"] = "sph" + _digits(rng, 8)
            values["invoice_bound"] = "true"
        elif p == "pdd":
            if rng.random() < 0.3:
                values["ddjb_pid"] = f"{_digits(rng, 7)}_{_digits(rng, 9)}"
            if rng.random() < 0.6:
                values["group_order_id"] = _digits(rng, 18)
        else:
            values["cashier"] = rng.choice(["店长 林琳", "店员 何佳", "店员 苏晴"])
            if rng.random() < 0.6:
                values["member_card"] = "VIP" + _digits(rng, 8)
        return [{"order_id": order["id"], "platform": p, "key": k, "value": v} for k, v in values.items()]

    # --- what happened after the order ----------------------------------------------------------
    def _afterlife(self, order: dict[str, Any]) -> None:
        status = order["status"]
        if status == "cancelled":
            self._audit_cancel(order)
            return
        if order["platform"] == "pos" or status in ("pending_payment", "paid", "allocating"):
            if status in ("paid", "allocating") and self.rng.random() < 0.02:
                self._audit_address(order)
            return
        shipment = self._ship(order)
        if order["invoice_status"] == "pending" or (order["platform"] == "tmall" and self.rng.random() < 0.2):
            self._invoice(order)
        if status == "after_sales" or (status == "completed" and self.rng.random() < 0.02):
            self._case(order, shipment)

    def _ship(self, order: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        wh = self.t["warehouses"][order["warehouse_id"] - 1]
        carrier = self.carrier_of[wh["code"]] if rng.random() > 0.15 else rng.choice(["极兔速递", "京东快递"])
        spec = self.cat["carriers"][carrier]
        tracking_no = spec["prefix"] + _digits(rng, spec["digits"])
        order["tracking_no"] = tracking_no
        shipped_at = min(order["paid_at"] + timedelta(hours=rng.uniform(2, 22)), self.anchor - timedelta(minutes=5))
        shipped_at = self._health_history(order, shipped_at)
        shipment = {"id": len(self.t["shipments"]) + 1, "order_id": order["id"], "carrier": carrier,
                    "tracking_no": tracking_no, "warehouse_id": wh["id"], "status": "in_transit",
                    "shipped_at": shipped_at, "delivered_at": None, "lines": None}
        self.t["shipments"].append(shipment)
        self._scans(order, wh, shipped_at)
        centres = self.cat["province_centres"]
        origin, dest = centres[wh["province"]], centres.get(order["province"], centres["浙江省"])
        courier_a, courier_b = self._person(), self._person()
        dest_city = order["city"].removesuffix("市")
        steps = [
            (0, f"{wh['city']}", f"【{wh['city']}】{carrier}已揽收", courier_a, origin, "in_transit"),
            (rng.uniform(2, 5), f"{wh['city']}转运中心", f"快件已到达【{wh['city']}转运中心】", None, origin, "in_transit"),
            (rng.uniform(3, 6), f"{wh['city']}转运中心", f"快件已从【{wh['city']}转运中心】发出，下一站【{dest_city}转运中心】",
             None, origin, "in_transit"),
            (rng.uniform(10, 34), f"{dest_city}转运中心", f"快件已到达【{dest_city}转运中心】", None, dest, "in_transit"),
            (rng.uniform(3, 7), f"{order['district']}营业点",
             f"【{order['district']}营业点】快递员{courier_b[0]}正在派件，电话{courier_b[1]}", courier_b, dest, "delivering"),
            (rng.uniform(1, 5), f"{order['district']}", "快件已签收，签收人：本人，感谢使用" + carrier, courier_b, dest, "delivered"),
        ]
        at = shipped_at
        for hours, place, text, courier, (lon, lat), state in steps:
            at = at + timedelta(hours=hours)
            if at > self.anchor or (state == "delivered" and order["status"] == "shipped"):
                break
            self.t["tracking_events"].append({
                "id": len(self.t["tracking_events"]) + 1, "shipment_id": shipment["id"], "occurred_at": at,
                "location": place, "description": text,
                "courier_name": courier[0] if courier else None, "courier_phone": courier[1] if courier else None,
                "lon": Decimal(str(lon + rng.uniform(-0.3, 0.3))).quantize(Decimal("0.000001")),
                "lat": Decimal(str(lat + rng.uniform(-0.2, 0.2))).quantize(Decimal("0.000001"))})
            shipment["status"] = state
            if state == "delivered":
                shipment["delivered_at"] = at
        return shipment

    def _scans(self, order: dict[str, Any], wh: dict[str, Any], shipped_at: datetime) -> None:
        """Who picked, packed and dispatched the parcel (仓库扫描日志), minutes before it left."""
        rng = self.rng
        picker = rng.choice(["li.sf", "zhao.j"])
        sku_barcode = self.barcode_of
        at = shipped_at - timedelta(minutes=rng.uniform(40, 120))
        scans = self.t.setdefault("scan_log", [])
        for it in order["items"]:
            at += timedelta(seconds=rng.uniform(20, 90))
            scans.append({"id": len(scans) + 1, "warehouse_id": wh["id"], "order_id": order["id"], "action": "pick",
                          "barcode": sku_barcode[it["sku"]], "box_no": None, "operator": picker,
                          "station": f"{wh['name']}-拣货枪{rng.randint(1, 6):02d}", "scanned_at": at})
        box = f"BX{order['id']:07d}"
        for action, operator, barcode, gap in (("pack", "chen.bz", box, 600), ("ship", "chen.bz", order["tracking_no"], 900)):
            at += timedelta(seconds=rng.uniform(60, gap))
            scans.append({"id": len(scans) + 1, "warehouse_id": wh["id"], "order_id": order["id"], "action": action,
                          "barcode": barcode, "box_no": box, "operator": operator,
                          "station": f"{wh['name']}-打包台{rng.randint(1, 3)}", "scanned_at": min(at, shipped_at)})

    def _invoice(self, order: dict[str, Any], *, kind: str = "blue", of: dict[str, Any] | None = None) -> dict[str, Any]:
        rng = self.rng
        amount = order["paid_amount"] if of is None else -of["amount"]
        tax = (amount - amount / Decimal("1.13")).quantize(CENT)
        invoice = {"id": len(self.t["invoices"]) + 1, "order_id": order["id"], "invoice_no": "2633" + _digits(rng, 16),
                   "kind": kind, "amount": amount, "tax_amount": tax,
                   "title": rng.choice(["个人", "个人", "杭州启明星教育科技有限公司", "上海禾苗母婴用品有限公司"]),
                   "buyer_tax_no": None, "issued_at": min(order["paid_at"] + timedelta(hours=rng.uniform(1, 30)), self.anchor),
                   "red_flush_of_id": of["id"] if of else None,
                   "red_confirmation_no": ("3300" + _digits(rng, 16)) if of else None, "reissue_pending": False}
        if invoice["title"] != "个人":
            invoice["buyer_tax_no"] = "91330" + _digits(rng, 13)
        self.t["invoices"].append(invoice)
        order["invoice_status"] = "issued" if kind == "blue" else "red_flushed"
        return invoice

    def _case(self, order: dict[str, Any], shipment: dict[str, Any]) -> None:
        rng = self.rng
        kind = rng.choices(["exchange", "return_refund", "refund_only", "reship"], weights=[40, 35, 15, 10])[0]
        earliest, latest = shipment["shipped_at"] + timedelta(hours=12), self.anchor - timedelta(minutes=30)
        requested = earliest + (latest - earliest) * rng.random() if latest > earliest else latest
        response = requested + timedelta(seconds=min(3600, rng.lognormvariate(4.6, 0.6)))  # median ≈ 100 s
        closed = order["status"] == "completed"
        state = "closed" if closed else {
            "exchange": rng.choice(["requested", "out_of_stock", "exchange_created"]),
            "return_refund": rng.choice(["requested", "awaiting_return", "received", "refunded"]),
            "refund_only": rng.choice(["requested", "refunded"]),
            "reship": rng.choice(["requested", "reshipped"]),
        }[kind]
        line = next(it for it in order["items"] if not it["is_gift"])
        case = {"id": len(self.t["after_sales_cases"]) + 1, "case_no": f"AS{order['order_no'][2:]}",
                "order_id": order["id"], "kind": kind, "state": state, "flow_version": 1,
                "lines": [{"line_no": line["line_no"], "sku": line["sku"], "name": line["name"], "color": line["color"],
                           "size": line["size"], "qty": 1, "paid": str(line["paid"])}],
                "reason": {"exchange": "尺码偏小，想换大一码", "return_refund": "颜色与图片不符",
                           "refund_only": "少发一件，协商仅退款", "reship": "包裹内缺少一条裤子"}[kind],
                "refund_amount": line["paid"] if kind in ("return_refund", "refund_only") else None,
                "exchange_order_id": None, "requested_at": requested, "first_response_at": response,
                "closed_at": requested + timedelta(hours=rng.uniform(2, 30)) if closed else None,
                "created_by": rng.choice(["xiaomei", "ajie"])}
        if kind == "exchange":
            line["line_status"] = "frozen"
            if state == "exchange_created":
                case["exchange_order_id"] = self._exchange_order(order, line, response)
            if order["invoice_status"] == "issued":
                order["invoice_status"] = "reissue_pending"
                next(i for i in self.t["invoices"] if i["order_id"] == order["id"])["reissue_pending"] = True
        if kind == "return_refund" and state == "refunded":
            line["line_status"] = "refunded"
            blue = next((i for i in self.t["invoices"] if i["order_id"] == order["id"] and i["kind"] == "blue"), None)
            if blue is not None:
                self._invoice(order, kind="red", of=blue)
        self.t["after_sales_cases"].append(case)
        self.out.audit.append(self._audit_row(case["created_by"], "after_sales.open", order,
                                              f"售后工单 {case['case_no']}：{case['reason']}",
                                              {"status": "shipped"}, {"status": "after_sales", "case_no": case["case_no"]}))

    def _exchange_order(self, original: dict[str, Any], line: dict[str, Any], responded: datetime) -> int:
        sizes = self.cat["sizes"]
        bigger = sizes[min(sizes.index(line["size"]) + 1, len(sizes) - 1)]
        sku = next(s for s in self.sellable if s["style_code"] == line["sku"][:5] and s["color"] == line["color"]
                   and s["size"] == bigger)
        n = len(self.t["orders"]) + 1
        # created by customer service some minutes to hours after it first answered the customer
        ordered_at = min(responded + timedelta(minutes=self.rng.uniform(3, 240)), self.anchor - timedelta(minutes=1))
        items = [{"line_no": 1, "sku": sku["sku_code"], "name": sku["name"], "color": sku["color"], "size": sku["size"],
                  "qty": 1, "unit_price": sku["price"], "paid": Decimal("0.00"), "is_gift": False, "line_status": "normal"}]
        gift = next((it for it in original["items"] if it["is_gift"]), None)
        if gift is not None:  # the exchange keeps the gift the original earned
            items.append(dict(gift, line_no=2))
        exchange = dict(original, id=n, order_no=f"OH{ordered_at.astimezone(CST):%y%m%d}{n:06d}",
                        platform_order_no=original["platform_order_no"] + "-HH", ordered_at=ordered_at,
                        paid_at=ordered_at, items=items, original_amount=Decimal("0.00"), paid_amount=Decimal("0.00"),
                        status="paid", tracking_no=None, invoice_status="none", buyer_note="换货单：换大一码",
                        seller_note=f"原订单 {original['order_no']} 尺码调换", ship_by=ordered_at + timedelta(hours=24))
        self.t["orders"].append(exchange)
        self.out.to_route.append(exchange["order_no"])
        return n

    def sync_states(self) -> None:
        """Each polled shop's last pull as the hub records it; the live-stream 抖店 shop is being throttled."""
        counts: dict[int, int] = defaultdict(int)
        for o in self.t["orders"]:
            counts[o["shop_id"]] += 1
        rows = []
        for shop in self.t["shops"]:
            if shop["platform"] == "pos":
                continue  # stores push their sales: nothing is pulled
            throttled = shop["code"] == "DY-LIVE"
            rows.append({"shop_id": shop["id"], "high_water": self.anchor - timedelta(minutes=48 if throttled else 2),
                         "last_attempt_at": self.anchor - timedelta(minutes=1),
                         "last_success_at": self.anchor - timedelta(minutes=47 if throttled else 1),
                         "last_error": "抖店开放平台限流：调用过于频繁，已退避重试（错误码 40007）" if throttled else None,
                         "last_error_at": self.anchor - timedelta(minutes=1) if throttled else None,
                         "consecutive_failures": 23 if throttled else 0, "orders_ingested": counts[shop["id"]],
                         "owner_hub": "hub-hz-01", "owner_heartbeat_at": self.anchor - timedelta(seconds=5)})
        self.t["shop_sync_state"] = rows

    def _health_history(self, order: dict[str, Any], shipped_at: datetime) -> datetime:
        """The story behind 订单健康度: about 2.5% of parcels leave after the deadline, and about a third
        of the rest make it only because someone stepped in by hand (加急插队, 人工改仓, 补打, 人工改环节) —
        each rescue on the order's audit trail with who and why, some orders rescued twice."""
        hr = self.health_rng
        if order["ship_by"] is None:
            return shipped_at
        if hr.random() < 0.004:  # shipped here, but the platform was never told (回传失败): 状态不一致
            self.out.platform_behind.append(order["order_no"])
        late = order["ship_by"] + timedelta(hours=hr.uniform(1, 10))
        if hr.random() < 0.025 and late < self.anchor - timedelta(minutes=5):
            return late
        if hr.random() < 0.34:
            for _ in range(2 if hr.random() < 0.1 else 1):
                action, who, basis = hr.choice(RESCUES)
                self.out.audit.append(self._audit_row(who, action, order, basis.format(n=_digits(hr, 6)),
                                                      {"status": "allocating"}, {"status": "allocating", "by_hand": True}))
        return shipped_at

    def _audit_row(self, operator: str, action: str, order: dict[str, Any], basis: str,
                   before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        return {"operator": operator, "station": "客服工作台-01", "station_ip": f"10.20.1.{self.rng.randint(11, 60)}",
                "action": action, "entity_type": "order", "entity_id": order["order_no"], "basis": basis,
                "before": before, "after": after}

    def _audit_cancel(self, order: dict[str, Any]) -> None:
        basis = self.rng.choice(self.cat["cancel_bases"]).format(n=_digits(self.rng, 8))
        self.out.audit.append(self._audit_row(self.rng.choice(["xiaomei", "ajie", "wang.zz"]), "order.cancel", order,
                                              basis, {"status": "paid", "version": 1}, {"status": "cancelled", "version": 2}))
        order["version"] = 2

    def _audit_address(self, order: dict[str, Any]) -> None:
        basis = self.rng.choice(self.cat["address_bases"]).format(n=_digits(self.rng, 8))
        before = {"receiver_address": order["receiver_address"]}
        province, city, district, street = self._place()
        order.update(receiver_address=f"{province.name}{city.name}{district}{street}", province=province.name,
                     city=city.name, district=district, version=2)
        self.out.audit.append(self._audit_row("xiaomei", "order.address_change", order, basis, before,
                                              {"receiver_address": order["receiver_address"]}))

    def _ensure_red_flush(self) -> None:
        """Finance must see the blue → red chain at least once, whatever the dice said."""
        if any(i["kind"] == "red" for i in self.t["invoices"]):
            return
        by_id = {o["id"]: o for o in self.t["orders"]}
        case = next((c for c in self.t["after_sales_cases"] if c["kind"] == "return_refund"), None)
        if case is None:
            return
        order = by_id[case["order_id"]]
        blue = next((i for i in self.t["invoices"] if i["order_id"] == order["id"] and i["kind"] == "blue"), None)
        blue = blue or self._invoice(order)
        case["state"] = "refunded"
        line = next(it for it in order["items"] if it["line_no"] == case["lines"][0]["line_no"])
        line["line_status"] = "refunded"
        self._invoice(order, kind="red", of=blue)

    def extras(self) -> None:
        """A few payloads in quarantine and outbox messages, as an admin would find them."""
        self._ensure_red_flush()
        bad = [
            ("douyin", "order.detail", b'{"code":10000,"data":{"shop_order_list":[{"order_id":"6921',
             "JSON 解析失败：报文在第 56 个字符处被截断"),
            ("pdd", "order.list", '{"order_list_get_response":{"order_list":[{"order_sn":"261124-01","pay_amount":"abc"}]}}'.encode(),
             "金额「abc」不是数字"),
        ]
        import hashlib

        self.t["raw_payloads"] = [
            {"id": i, "source": src, "shop_id": next(s["id"] for s in self.t["shops"] if s["platform"] == src),
             "kind": kind, "body": body, "sha256": hashlib.sha256(body).hexdigest(), "status": "quarantined",
             "error": err, "order_id": None}
            for i, (src, kind, body, err) in enumerate(bad, 1)
        ]
        by_status: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for order in self.t["orders"]:
            by_status[order["status"]].append(order)
        shipped = by_status["shipped"][:3]
        self.t["outbox"] = [
            {"id": i + 1, "topic": "erp.webhook", "dedupe_key": f"erp:shipped:{o['order_no']}",
             "payload": {"event": "order.shipped", "order_no": o["order_no"], "tracking_no": o["tracking_no"]},
             "status": "sent", "attempts": 1}
            for i, o in enumerate(shipped)
        ]
        # 部分发货: two recent shipped orders with more than one line left in two parcels, the first gone
        split = [o for o in reversed(by_status["shipped"]) if sum(not it["is_gift"] for it in o["items"]) > 1][:2]
        parcels = {s["order_id"]: s for s in self.t["shipments"]}
        for o in split:
            first = next(it for it in o["items"] if not it["is_gift"])
            o["status"] = "partially_shipped"
            parcels[o["id"]]["lines"] = [{"line_no": first["line_no"], "qty": first["qty"]}]
        if by_status["after_sales"]:
            o = by_status["after_sales"][0]
            self.t["outbox"].append({"id": len(self.t["outbox"]) + 1, "topic": "sms", "dedupe_key": f"sms:as:{o['order_no']}",
                                     "payload": {"phone": "13957100000", "template": "return_approved",
                                                 "template_code": "SMS_467890102", "case_no": f"AS{o['order_no'][2:]}",
                                                 "params": {"case_no": f"AS{o['order_no'][2:]}"},
                                                 "out_id": f"sms:as:{o['order_no']}"},
                                     "status": "failed", "attempts": 3, "last_error": "短信网关超时（已重试 3 次）"})


def generate(seed: int, anchor: datetime, n_orders: int = 3000) -> DemoCompany:
    """The whole demo company for ``seed``, with order times in the 7 days before ``anchor``."""
    gen = _Generator(seed, anchor, n_orders)
    gen.master()
    gen.orders()
    gen.extras()
    gen.sync_states()
    return gen.out
