"""The simulated marketplace behind every platform simulator: orders that appear, change and misbehave.

Orders live here in a platform-neutral shape; each platform simulator renders them in its own
API's shape (yuan strings or fen, masked or encrypted receivers, its status codes). A world
generates realistic orders from the demo catalogue, changes them as buyers and platforms do,
and injects the faults tests ask for.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.domain.address import load_regions
from app.domain.money import CENT, apportion

CATALOGUE = Path(__file__).resolve().parents[2] / "resources" / "demo" / "company.json"


@dataclass
class SimLine:
    """A sub-order: its own id, status and refund state."""

    line_id: str
    sku: str
    name: str
    color: str
    size: str
    qty: int
    price: Decimal
    paid: Decimal
    is_gift: bool = False
    refund: str = "none"  # none | requested | return_agreed (goods to come back) | refunded
    refund_kind: str = "refund"  # refund (仅退款) | return (退货退款)
    shipped_in: str | None = None  # the tracking number of the parcel this line left in


@dataclass
class SimOrder:
    """A platform-neutral order as the simulated platform stores it.

    ``status`` uses the hub's stage codes (pending_payment, paid, shipped, completed, cancelled);
    each platform simulator maps them to its own codes. ``updated`` has whole seconds, as
    platforms stamp modification times.
    """

    order_id: str
    created: datetime
    updated: datetime
    status: str
    lines: list[SimLine]
    buyer_token: str
    receiver_name: str
    receiver_phone: str
    province: str
    city: str
    district: str
    detail: str
    post_fee: Decimal = Decimal("0.00")
    discount: Decimal = Decimal("0.00")
    paid_at: datetime | None = None
    ship_by: datetime | None = None
    tracking_no: str | None = None
    carrier: str | None = None
    buyer_note: str = ""
    seller_note: str = ""
    ext: dict[str, str] = field(default_factory=dict)
    extra_tracks: list[str] = field(default_factory=list)  # 拼多多: later parcels' waybills (分包发货)

    @property
    def total(self) -> Decimal:
        return sum((ln.price * ln.qty for ln in self.lines), Decimal(0))

    @property
    def payment(self) -> Decimal:
        return sum((ln.paid for ln in self.lines), Decimal(0)) + self.post_fee

    @property
    def address(self) -> str:
        return f"{self.province}{self.city}{self.district}{self.detail}"


@dataclass
class Faults:
    """Misbehaviour on demand. Rates are probabilities per request; ``*_next`` counts are one-shot."""

    error_5xx_next: int = 0
    slow_next: int = 0
    slow_seconds: float = 0.0
    malformed_next: int = 0
    rate_limit_next: int = 0
    rate_limit_seconds: int = 1
    expire_token_next: int = 0
    duplicate_rate: float = 0.0  # list pages repeat an order already on another page
    stale_detail_next: int = 0  # a detail call returns the previous version (out-of-order update)
    error_5xx_rate: float = 0.0
    lost_answer_next: int = 0  # a write is applied, then the answer is lost (504 from the gateway)

    def take(self, name: str) -> bool:
        """Consume one of a one-shot fault, if any is left."""
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False


def _catalogue() -> dict[str, Any]:
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))


class SimWorld:
    """Thread-safe store of one shop's simulated orders, with a generator and fault switches."""

    def __init__(self, platform: str, *, seed: int = 1, clock: Callable[[], datetime] | None = None,
                 id_factory: Callable[[random.Random, datetime], str] | None = None) -> None:
        self.platform = platform
        self.rng = random.Random(seed)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.orders: dict[str, SimOrder] = {}
        self.history: dict[str, list[SimOrder]] = {}  # previous versions, for out-of-order faults
        self.faults = Faults()
        self.listeners: list[Callable[[str, SimOrder], None]] = []  # pushes: (topic, order)
        self.cat = _catalogue()
        self.regions = load_regions()
        self._id_factory = id_factory or (lambda rng, at: str(rng.randrange(10**18, 10**19)))
        self._line_seq = 0
        # Moves on every order placed or changed: simulators key what they cache (a window's sorted
        # orders) on it, so a list is never served from before a change.
        self.revision = 0
        self.shipments_applied: list[tuple[str, str]] = []  # every ship confirmation that changed an order

    # --- time -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    # --- generation -----------------------------------------------------------------------------
    def create(self, n: int = 1, *, at: datetime | None = None, status: str = "paid") -> list[SimOrder]:
        """Place ``n`` new orders (paid by default) at ``at`` (default: now)."""
        made = []
        with self.lock:
            for _ in range(n):
                made.append(self._new(at or self.now(), status))
        return made

    def _new(self, at: datetime, status: str) -> SimOrder:
        rng, cat = self.rng, self.cat
        styles = rng.sample(cat["styles"], rng.choices([1, 2, 3], weights=[60, 30, 10])[0])
        lines = []
        for style in styles:
            color_no = rng.randrange(len(style["colors"]))
            size = rng.choice(cat["sizes"])
            lines.append(self._line(f"{style['code']}-{color_no + 1:02d}-{size}", style["name"], style["colors"][color_no],
                                    size, rng.choices([1, 2], weights=[85, 15])[0], Decimal(style["price"])))
        total = sum((ln.price * ln.qty for ln in lines), Decimal(0))
        discount = Decimal(rng.choice([0, 0, 5, 10, 20])) if total > 50 else Decimal(0)
        for ln, share in zip(lines, apportion(total - discount, [ln.price * ln.qty for ln in lines]), strict=True):
            ln.paid = share
        if total - discount >= Decimal("299.00"):
            gift = cat["gift"]
            lines.append(self._line(f"{gift['code']}-01-M", gift["name"], gift["colors"][0], "M", 1, Decimal("0.00"),
                                    is_gift=True))
        provinces = self.regions.provinces
        province = rng.choices(provinces, weights=[p.weight for p in provinces])[0]
        city = rng.choice(province.cities)
        name = rng.choice(cat["surnames"]) + rng.choice(cat["given_names"])
        phone = rng.choice(["138", "139", "150", "158", "177", "186", "199"]) + "".join(rng.choice("0123456789") for _ in range(8))
        order_id = self._id_factory(rng, at)
        while order_id in self.orders:
            order_id = self._id_factory(rng, at)
        paid = status != "pending_payment"
        order = SimOrder(
            order_id=order_id, created=at, updated=at, status=status, lines=lines,
            buyer_token="".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(24)),
            receiver_name=name, receiver_phone=phone, province=province.name, city=city.name,
            district=rng.choice(city.districts), detail=f"{rng.choice(city.streets or ('人民路',))}{rng.randint(1, 999)}号",
            # paid a little after ordering, but never in the future (a live order is paid "now")
            discount=discount, paid_at=min(at + timedelta(seconds=rng.randint(3, 90)), self.now()) if paid else None,
            buyer_note=rng.choice(cat["buyer_notes"]) if rng.random() < 0.1 else "",
        )
        if order.paid_at:
            order.updated = order.paid_at
            order.ship_by = order.paid_at + timedelta(hours=48)
        self.orders[order_id] = order
        self.revision += 1
        return order

    def _line(self, sku: str, name: str, color: str, size: str, qty: int, price: Decimal, *, is_gift: bool = False) -> SimLine:
        self._line_seq += 1
        line_id = str(self.rng.randrange(10**17, 10**18) + self._line_seq)
        return SimLine(line_id, sku, name, color, size, qty, price, Decimal("0.00"), is_gift)

    # --- changes buyers and platforms make --------------------------------------------------------
    def _change(self, order_id: str, topic: str, mutate: Callable[[SimOrder], None]) -> SimOrder:
        with self.lock:
            order = self.orders[order_id]
            self.history.setdefault(order_id, []).append(copy.deepcopy(order))
            mutate(order)
            order.updated = max(self.now(), order.updated)  # whole seconds, never backwards
            self.revision += 1
            snapshot = copy.deepcopy(order)
        for listener in list(self.listeners):
            listener(topic, snapshot)
        return snapshot

    def change_address(self, order_id: str, detail: str | None = None) -> SimOrder:
        """The buyer changes the delivery address (after payment: the hub must notice)."""
        def mutate(o: SimOrder) -> None:
            o.detail = detail or f"{self.rng.choice(['新华路', '解放路', '中山路', '建设路'])}{self.rng.randint(1, 999)}号"
        return self._change(order_id, "address_changed", mutate)

    def cancel(self, order_id: str) -> SimOrder:
        """The buyer cancels (before shipping) — a refund closes the trade."""
        def mutate(o: SimOrder) -> None:
            o.status = "cancelled"
            for ln in o.lines:
                ln.refund = "refunded" if o.paid_at else "none"
        return self._change(order_id, "cancelled", mutate)

    def request_refund(self, order_id: str, line_index: int = 0, kind: str = "refund") -> SimOrder:
        """A refund on one line only (``kind`` refund: 仅退款, return: 退货退款): the order goes on, the line does not."""
        def mutate(o: SimOrder) -> None:
            o.lines[line_index].refund, o.lines[line_index].refund_kind = "requested", kind
        return self._change(order_id, "refund_created", mutate)

    def note(self, order_id: str, text: str) -> SimOrder:
        """The seller's memo changes (a harmless update)."""
        def mutate(o: SimOrder) -> None:
            o.seller_note = text
        return self._change(order_id, "memo_modified", mutate)

    def ship(self, order_id: str, tracking_no: str, carrier: str = "顺丰速运") -> SimOrder:
        def mutate(o: SimOrder) -> None:
            o.status, o.tracking_no, o.carrier = "shipped", tracking_no, carrier
        return self._change(order_id, "shipped", mutate)

    def pay(self, order_id: str) -> SimOrder:
        def mutate(o: SimOrder) -> None:
            o.status, o.paid_at = "paid", self.now()
            o.ship_by = o.paid_at + timedelta(hours=48)
        return self._change(order_id, "paid", mutate)

    # --- write-backs the platforms receive (ship confirmations, refund answers) ----------------------
    def confirm_shipment(self, order_id: str, tracking_no: str, carrier: str,
                         line_ids: list[str] | None = None) -> str:
        """The seller says a parcel left: apply it (once) and say how it went.

        Returns ``shipped`` (applied now), or a refusal: ``already`` (this parcel or these lines were
        confirmed before), ``cancelled``, ``refunded`` (the lines are refunded), ``refund_pending`` (a
        refund waits for the seller), ``not_found``, ``bad_lines``.
        """
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return "not_found"
            wanted = [ln for ln in order.lines if line_ids is None or ln.line_id in line_ids]
            if line_ids is not None and len(wanted) != len(set(line_ids)):
                return "bad_lines"
            if any(ln.shipped_in == tracking_no for ln in order.lines) or order.tracking_no == tracking_no:
                return "already"
            if order.status == "cancelled":
                return "cancelled"
            live = [ln for ln in wanted if ln.refund != "refunded"]
            if not live:
                return "refunded"
            if order.status in ("shipped", "completed") or all(ln.shipped_in for ln in live):
                return "already"
            if any(ln.refund == "requested" for ln in live):
                return "refund_pending"
            self.shipments_applied.append((order_id, tracking_no))

            def mutate(o: SimOrder) -> None:
                for ln in o.lines:
                    if (line_ids is None or ln.line_id in line_ids) and ln.refund != "refunded":
                        ln.shipped_in = tracking_no
                o.tracking_no, o.carrier = o.tracking_no or tracking_no, o.carrier or carrier
                if all(ln.shipped_in or ln.refund == "refunded" for ln in o.lines):
                    o.status = "shipped"
            self._change(order_id, "shipped", mutate)  # under the lock: two confirmations never both apply
            return "shipped"

    def answer_refund(self, order_id: str, line_id: str, agree: bool, *, goods_back: bool = False) -> str:
        """The seller agrees to or refuses a line's refund: ``agreed``, ``refused``, ``no_refund``, ``not_found``.

        ``goods_back``: agree to a 退货退款 — the buyer now sends the goods back (``return_agreed``)."""
        with self.lock:
            order = self.orders.get(order_id)
            line = next((ln for ln in order.lines if ln.line_id == line_id), None) if order else None
            if line is None:
                return "not_found"
            if line.refund == "refunded" and agree:
                return "agreed"  # the same answer again: nothing more happens
            if line.refund != "requested":
                return "no_refund"

        def mutate(o: SimOrder) -> None:
            target = next(ln for ln in o.lines if ln.line_id == line_id)
            target.refund = ("return_agreed" if goods_back else "refunded") if agree else "none"
            if agree and o.status == "paid" and all(ln.refund == "refunded" for ln in o.lines):
                o.status = "cancelled"
        self._change(order_id, "refund_agreed" if agree else "refund_refused", mutate)
        return "agreed" if agree else "refused"

    # --- reads for the simulators ----------------------------------------------------------------
    def modified_between(self, start: datetime, end: datetime) -> list[SimOrder]:
        """Orders whose modification time is in [start, end], newest first (TOP/PDD order)."""
        with self.lock:
            found = [copy.deepcopy(o) for o in self.orders.values() if start <= o.updated <= end]
        found.sort(key=lambda o: (o.updated, o.order_id), reverse=True)
        return found

    def get(self, order_id: str) -> SimOrder | None:
        """The current version, or — under the ``stale_detail_next`` fault — the previous one."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return None
            older = self.history.get(order_id)
            if older and self.faults.take("stale_detail_next"):
                return copy.deepcopy(older[-1])
            return copy.deepcopy(order)


def fingerprint(order: SimOrder) -> tuple[Any, ...]:
    """Every field of the order and its lines, hashable: equal fingerprints render the same answer."""
    values = []
    for f in fields(SimOrder):
        value = getattr(order, f.name)
        if f.name == "lines":
            value = tuple(tuple(getattr(ln, lf.name) for lf in fields(SimLine)) for ln in value)
        elif isinstance(value, dict):
            value = tuple(value.items())
        elif isinstance(value, list):
            value = tuple(value)
        values.append(value)
    return tuple(values)


def round_yuan(value: Decimal) -> str:
    """Yuan with two decimals as platforms print them (``"129.00"``)."""
    return str(value.quantize(CENT))


def to_fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())
