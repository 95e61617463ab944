"""Picking by scanner: every scan is one short transaction that answers in business language.

What a scan means depends on what it is and where the picker stands:

* a slip's order QR (``OH:O:`` + order no.) opens that order's pick (or resumes it);
* a 「扫码查进度」 code (``OH:P:`` + picker) shows the picker's day;
* anything else, while a pick is open, is an item barcode checked against the order's lines
  (wrong item or one too many: refused, recorded, nothing counted); the last item confirms the pick;
* anything else, once the pick is confirmed, is the tracking label: the order ships.

Each item scan locks the order row, so a cancellation committed by customer service is seen by
the very next scan: the pick stops and nothing more is counted. A refused scan never raises: it
comes back as a :class:`ScanResult` with ``ok=False`` (and a row in ``scan_refusals``), so the
station can warn loudly and carry on with the next scan.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Order, ScanLog, Shipment, Sku
from app.db.warehouse_models import Pick, ScanRefusal, Wave, WaveOrder
from app.domain.actor import Actor
from app.domain.carriers import carrier_of_tracking
from app.domain.clock import CST, local, now
from app.domain.errors import BusinessError
from app.domain.fields import Lang, code_label
from app.domain.messages import Coded, render
from app.domain.slip import ORDER_QR_PREFIX, PROGRESS_QR_PREFIX, WAVE_QR_PREFIX, SlipLine
from app.domain.status import OrderStatus
from app.services import audit, orders, parcels, waves, writeback
from app.services.change_notices import NoticeView, open_notice_for
from app.services.pick_slips import order_lines, packing_notes, priority_of, shipped_by_line
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

LIVE = ("picking", "confirmed")
#: stages in which the warehouse picks: 配货中, and 部分发货 (the rest of a split order)
PICKABLE = (OrderStatus.ALLOCATING.value, OrderStatus.PARTIALLY_SHIPPED.value)
TRACKING = re.compile(r"^[A-Za-z0-9]{8,32}$")


@dataclass(frozen=True, slots=True)
class PickLine:
    """One SKU of the open pick: how many the order needs, how many are scanned, where it lies."""

    sku_code: str
    barcode: str
    name: str
    color: str
    size: str
    needed: int
    scanned: int
    bin_code: str
    bin_coords: str
    pick_sequence: int
    is_gift: bool

    @property
    def spec(self) -> str:
        return f"{self.color}/{self.size}"

    @property
    def done(self) -> bool:
        return self.scanned >= self.needed


@dataclass(frozen=True, slots=True)
class PickView:
    """The pick as the station shows it (plain values, read in the scan's own transaction)."""

    order_no: str
    status: str  # pick_status code
    order_status: str
    picker: str
    wave_no: str | None
    platform: str
    priority: str  # pick_priority code
    ship_by: datetime | None
    lines: tuple[PickLine, ...]
    box_no: str | None
    tracking_no: str | None
    notes: tuple[str, ...]
    notice: NoticeView | None = None

    @property
    def total(self) -> int:
        return sum(line.needed for line in self.lines)

    @property
    def scanned_total(self) -> int:
        return sum(min(line.scanned, line.needed) for line in self.lines)


@dataclass(frozen=True, slots=True)
class Progress:
    """「扫码查进度」: the picker's own day."""

    picker: str
    done: int
    waiting: int
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The answer to one scan; ``ok=False`` is a refusal the station must make loud."""

    kind: str  # opened | resumed | item | confirmed | shipped | progress | wave | refused | stopped
    ok: bool
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    pick: PickView | None = None
    progress: Progress | None = None

    def message(self, lang: Lang = "zh") -> str:
        return render(self.code, lang, **self.params)


def _refused(code: str, pick: PickView | None = None, kind: str = "refused", **params: Any) -> ScanResult:
    return ScanResult(kind, False, code, params, pick)


def scan(uow: UnitOfWork, raw: str, actor: Actor, *, box_no: str | None = None,
         warehouse_id: int | None = None) -> ScanResult:
    """Act on one scanned code (see the module docstring); never raises for a bad scan."""
    code = raw.strip()
    try:
        if code.startswith(ORDER_QR_PREFIX):
            return _open(uow, code[len(ORDER_QR_PREFIX):], actor, box_no, warehouse_id)
        if code.startswith(PROGRESS_QR_PREFIX):
            who = code[len(PROGRESS_QR_PREFIX):]
            day = progress(uow, actor.operator if who in ("", "-") else who)
            return ScanResult("progress", True, "PROGRESS_DAY", {"picker": day.picker, "done": day.done,
                                                                  "waiting": day.waiting}, progress=day)
        if code.startswith(WAVE_QR_PREFIX):
            with uow:  # the scan acts on the warehouse: the role must hold it (a progress look-up only reads)
                require(uow, actor, "pick.scan")
            return _wave(uow, code[len(WAVE_QR_PREFIX):])
        return _next(uow, code, actor, box_no)
    except BusinessError as err:
        return _refused(err.code, **err.params)


def _current(session: Session, picker: str) -> Pick | None:
    return session.execute(sa.select(Pick).where(Pick.picker == picker, Pick.status.in_(LIVE))
                           .order_by(Pick.touched_at.desc(), Pick.id.desc()).limit(1).with_for_update()).scalar_one_or_none()


def _refuse(session: Session, pick: Pick | None, order_id: int | None, barcode: str, reason: str, actor: Actor) -> None:
    session.add(ScanRefusal(pick_id=pick.id if pick else None, order_id=order_id, barcode=barcode[:200], reason=reason,
                            operator=actor.operator, station=actor.station))


class _PickLinesMemo:
    """The open pick's lines as last read, per (order, its version and last change, wave): an item scan
    moves one count on them instead of reading the order's lines, bins and wave again (3 of a scan's ~9
    statements).

    The order's version and ``updated_at`` (``clock_timestamp()``, to the microsecond) move with every
    change of the order (the trigger on ``orders``), and routing changes reservations only together with
    the order row (``version = o.version + 1`` in the same statement), so a changed order, a new bin or a
    shipped parcel is always read again; ``updated_at`` also tells apart two databases (or a reset one)
    whose order ids and versions happen to repeat. Only the hot
    path uses it (opening and item scans), on an order row locked and unchanged in that transaction;
    the counts always come from the pick row itself. Bounded, so a long shift keeps a few pages.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._rows: OrderedDict[tuple[Any, ...], tuple[tuple[SlipLine, ...], str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, pick: Pick, order: Order) -> tuple[tuple[SlipLine, ...], str | None]:
        key = (order.id, order.order_no, order.version, order.updated_at, pick.wave_id)
        with self._lock:
            hit = self._rows.get(key)
            if hit is not None:
                self._rows.move_to_end(key)
                return hit
        read = _read_lines(session, pick, order)
        with self._lock:
            self._rows[key] = read
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)
        return read


_LINES = _PickLinesMemo()


def _read_lines(session: Session, pick: Pick, order: Order) -> tuple[tuple[SlipLine, ...], str | None]:
    wave_no = session.scalar(sa.select(Wave.wave_no).where(Wave.id == pick.wave_id)) if pick.wave_id else None
    return tuple(order_lines(session, order)), wave_no


def _view(session: Session, pick: Pick, order: Order, *, memo: bool = False) -> PickView:
    """The pick as shown; ``memo`` (opening and item scans: the order locked and unchanged here) takes
    the lines from :class:`_PickLinesMemo` when the order's version has not moved since they were read."""
    slip_lines, wave_no = _LINES.get(session, pick, order) if memo else _read_lines(session, pick, order)
    by_barcode: dict[str, PickLine] = {}
    for line in slip_lines:
        seen = by_barcode.get(line.barcode)
        needed = line.quantity + (seen.needed if seen else 0)
        by_barcode[line.barcode] = PickLine(
            line.sku_code, line.barcode, line.name, line.color, line.size, needed, int(pick.scanned.get(line.barcode, 0)),
            line.bin_code, line.bin_coords, line.pick_sequence, line.is_gift) if seen is None else PickLine(
            *[getattr(seen, f) for f in ("sku_code", "barcode", "name", "color", "size")], needed, seen.scanned,
            seen.bin_code, seen.bin_coords, seen.pick_sequence, seen.is_gift)
    notes = packing_notes(order.buyer_note, order.seller_note)
    return PickView(order.order_no, pick.status, order.status, pick.picker, wave_no, code_label("platform", order.platform),
                    priority_of(order.ship_by, notes), order.ship_by, tuple(by_barcode.values()), pick.box_no,
                    order.tracking_no, notes, open_notice_for(session, order.id))


def current_pick(uow: UnitOfWork, picker: str) -> PickView | None:
    """The picker's open pick (being picked, or picked and waiting for its tracking label)."""
    with uow:
        pick = _current(uow.session, picker)
        return _view(uow.session, pick, uow.session.get_one(Order, pick.order_id)) if pick else None


def _open(uow: UnitOfWork, order_no: str, actor: Actor, box_no: str | None, warehouse_id: int | None) -> ScanResult:
    with uow:
        s = uow.session
        require(uow, actor, "pick.scan")  # opening a pick takes the order for this person: warehouse work
        order = s.execute(sa.select(Order).where(Order.order_no == order_no).with_for_update()).scalar_one_or_none()
        if order is None:
            _refuse(s, None, None, ORDER_QR_PREFIX + order_no, "unknown", actor)
            uow.commit()
            return _refused("NOT_FOUND", what="order", key=order_no)
        live = s.execute(sa.select(Pick).where(Pick.order_id == order.id, Pick.status.in_(LIVE)).with_for_update()
                         ).scalar_one_or_none()
        if live is not None and live.picker != actor.operator:
            _refuse(s, live, order.id, ORDER_QR_PREFIX + order_no, "taken", actor)
            uow.commit()
            return _refused("PICK_TAKEN", order_no=order_no, picker=live.picker)
        if live is not None:
            live.touched_at = sa.func.clock_timestamp()
            s.flush()
            view = _view(s, live, order, memo=True)
            uow.commit()
            if live.status == "confirmed":
                return ScanResult("resumed", True, "PICK_ALREADY_PICKED", {"order_no": order_no}, view)
            return ScanResult("resumed", True, "PICK_RESUMED", {"order_no": order_no, "scanned": view.scanned_total,
                                                                "total": view.total}, view)
        if order.status == OrderStatus.SHIPPED.value:
            return _refused("PICK_ALREADY_SHIPPED", order_no=order_no, tracking_no=order.tracking_no or "—")
        if order.status not in PICKABLE or order.warehouse_id is None:
            _refuse(s, None, order.id, ORDER_QR_PREFIX + order_no, "not_ready", actor)
            uow.commit()
            return _refused("PICK_NOT_READY", order_no=order_no, current=Coded("order_status", order.status))
        if warehouse_id is not None and order.warehouse_id != warehouse_id:
            return _refused("PICK_OTHER_WAREHOUSE", order_no=order_no, warehouse=str(order.warehouse_id))
        wave = waves.open_wave_of(s, order.id)
        pick = Pick(order_id=order.id, wave_id=wave.id if wave else None, warehouse_id=order.warehouse_id,
                    picker=actor.operator, station=actor.station, box_no=box_no, scanned={})
        s.add(pick)
        try:
            s.flush()
        except sa_exc.IntegrityError:  # someone opened it a moment ago
            return _refused("PICK_TAKEN", order_no=order_no, picker="—")
        s.refresh(pick)
        view = _view(s, pick, order, memo=True)
        uow.commit()
        return ScanResult("opened", True, "PICK_OPENED", {"order_no": order_no, "total": view.total}, view)


def _next(uow: UnitOfWork, code: str, actor: Actor, box_no: str | None) -> ScanResult:
    with uow:
        s = uow.session
        # the scan acts on the warehouse: the role must hold it — checked in the scan's own transaction
        # (a transaction of its own per scan cost a round trip more than the scan's work; bench_flow)
        require(uow, actor, "pick.scan")
        pick = _current(s, actor.operator)
        if pick is None:
            _refuse(s, None, None, code, "no_pick", actor)
            uow.commit()
            return _refused("PICK_NO_ORDER", barcode=code)
        order = s.execute(sa.select(Order).where(Order.id == pick.order_id).with_for_update()).scalar_one()
        if order.status not in PICKABLE:
            stop_live_pick(s, order, actor, reason="cancelled")
            _refuse(s, pick, order.id, code, "cancelled", actor)
            view = _view(s, pick, order)
            uow.commit()
            return _refused("PICK_CANCELLED", view, "stopped", order_no=order.order_no, scanned=view.scanned_total)
        if pick.status == "confirmed":
            order_no, version, pick_id = order.order_no, order.version, pick.id
        else:
            result = _item(s, pick, order, code, actor, box_no)
            uow.commit()
            return result
    return _ship(uow, pick_id, order_no, version, code, actor)


def _item(s: Session, pick: Pick, order: Order, code: str, actor: Actor, box_no: str | None) -> ScanResult:
    # The order's lines as read at the last scan (read again only when the order's version moved); the
    # answer is that view with the one count moved.
    view = _view(s, pick, order, memo=True)
    if view.notice is not None:
        _refuse(s, pick, order.id, code, "notice_open", actor)
        return _refused("PICK_NOTICE_OPEN", view, order_no=order.order_no, summary=view.notice.summary())
    line = next((x for x in view.lines if code in (x.barcode, x.sku_code)), None)
    if line is None:
        _refuse(s, pick, order.id, code, "wrong_item", actor)
        sku = s.execute(sa.select(Sku.name, Sku.color, Sku.size).where(sa.or_(Sku.barcode == code, Sku.sku_code == code))
                        ).first()
        item = f"（{sku.name} {sku.color}/{sku.size}）" if sku else ""
        return _refused("PICK_WRONG_ITEM", view, barcode=code, item=item, order_no=order.order_no)
    if line.scanned >= line.needed:
        _refuse(s, pick, order.id, code, "too_many", actor)
        return _refused("PICK_TOO_MANY", view, name=line.name, spec=line.spec, needed=line.needed)
    counted = replace(line, scanned=line.scanned + 1)
    pick.scanned = dict(pick.scanned) | {line.barcode: counted.scanned}
    s.add(ScanLog(warehouse_id=pick.warehouse_id, order_id=order.id, action="pick", barcode=code, box_no=pick.box_no,
                  operator=actor.operator, station=actor.station))
    view = replace(view, lines=tuple(counted if x is line else x for x in view.lines))
    if view.scanned_total < view.total:
        s.flush()
        return ScanResult("item", True, "PICK_ITEM_OK", {"name": counted.name, "spec": counted.spec,
                                                         "scanned": counted.scanned, "needed": counted.needed}, view)
    pick.status, pick.confirmed_at = "confirmed", sa.func.clock_timestamp()
    pick.box_no = box_no or pick.box_no or f"{order.order_no}-1"
    s.add(ScanLog(warehouse_id=pick.warehouse_id, order_id=order.id, action="pack", barcode=order.order_no,
                  box_no=pick.box_no, operator=actor.operator, station=actor.station))
    audit.record(s, actor, "pick.confirm", "order", order.order_no, basis=None, before={"pick_status": "picking"},
                 after={"pick_status": "confirmed", "box_no": pick.box_no, "pieces": view.total,
                        "scanned": dict(pick.scanned)})
    view = replace(view, status="confirmed", box_no=pick.box_no)
    return ScanResult("confirmed", True, "PICK_CONFIRMED", {"order_no": order.order_no, "total": view.total,
                                                            "box_no": pick.box_no}, view)


class _ThenUnitOfWork(UnitOfWork):
    """A unit of work that runs ``then(session)`` just before the service's commit: the order's stage
    change (made by the orders service) and the dispatch records commit together or not at all."""

    def __init__(self, session_factory: sessionmaker[Session], then: Callable[[Session], None]) -> None:
        super().__init__(session_factory)
        self._then = then

    def commit(self) -> None:
        self._then(self.session)
        self.session.commit()


def carrier_of(tracking_no: str) -> str:
    """The carrier's name from the one carrier table (app/domain/carriers.py), by the label's prefix."""
    carrier = carrier_of_tracking(tracking_no)
    return carrier.name_zh if carrier else "其他快递"


def _ship(uow: UnitOfWork, pick_id: int, order_no: str, version: int, tracking_no: str, actor: Actor) -> ScanResult:
    if not TRACKING.match(tracking_no):
        with uow:
            _refuse(uow.session, uow.session.get(Pick, pick_id), None, tracking_no, "bad_tracking", actor)
            uow.commit()
        return _refused("PICK_BAD_TRACKING", barcode=tracking_no, order_no=order_no)
    with uow:
        other = uow.session.scalar(sa.select(Order.order_no).join(Shipment, Shipment.order_id == Order.id)
                                   .where(Shipment.tracking_no == tracking_no))
    if other:
        return _refused("PICK_TRACKING_USED", tracking_no=tracking_no, other=other)
    views: list[PickView] = []

    def dispatch(s: Session) -> None:
        order = s.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
        pick = s.get_one(Pick, pick_id)
        gone = shipped_by_line(s, order)  # a split order: this parcel takes what earlier ones left
        rest = {n: q for n, q in parcels.remaining(order, gone).items() if q} if gone else {}
        order.tracking_no = order.tracking_no or tracking_no
        pick.status, pick.shipped_at = "shipped", sa.func.clock_timestamp()
        shipment = Shipment(order_id=order.id, carrier=carrier_of(tracking_no), tracking_no=tracking_no,
                            lines=parcels.contents(order, rest) if gone else None,
                            warehouse_id=pick.warehouse_id, status="created", shipped_at=sa.func.clock_timestamp())
        s.add(shipment)
        s.add(ScanLog(warehouse_id=pick.warehouse_id, order_id=order.id, action="ship", barcode=tracking_no,
                      box_no=pick.box_no, operator=actor.operator, station=actor.station))
        _consume_stock(s, order.id)
        s.flush()
        # the platform hears of it: same transaction, via the outbox (the last parcel of a split order names its lines)
        writeback.on_shipped(s, order, shipment, line_ids=parcels.completed_line_ids(order, rest, {}) if gone else (),
                             split=bool(gone), first_parcel=not gone)
        audit.record(s, actor, "pick.ship", "order", order_no, basis=None, before={"status": "allocating"},
                     after={"status": order.status, "tracking_no": tracking_no, "box_no": pick.box_no,
                            "carrier": carrier_of(tracking_no)})
        if pick.wave_id:
            waves.close_if_done(s, pick.wave_id)
        views.append(_view(s, pick, order))

    orders.change_status(_ThenUnitOfWork(uow._session_factory, dispatch), order_no, OrderStatus.SHIPPED,  # noqa: SLF001
                         expected_version=version, actor=actor, permission="pick.scan")
    return ScanResult("shipped", True, "PICK_SHIPPED", {"order_no": order_no, "tracking_no": tracking_no}, views[0])


def _consume_stock(s: Session, order_id: int) -> None:
    """The parcel left: its reserved stock leaves the shelf (on hand and reserved both go down)."""
    s.execute(sa.text(
        "UPDATE stock SET on_hand = greatest(stock.on_hand - r.q, 0), reserved = greatest(stock.reserved - r.q, 0),"
        " updated_at = now() FROM (SELECT stock_id, sum(qty) AS q FROM stock_reservations"
        " WHERE order_id = :o AND status = 'active' GROUP BY stock_id) r WHERE stock.id = r.stock_id"), {"o": order_id})
    s.execute(sa.text("UPDATE stock_reservations SET status = 'consumed', released_at = now()"
                      " WHERE order_id = :o AND status = 'active'"), {"o": order_id})


def stop_live_pick(s: Session, order: Order, actor: Actor, *, reason: str) -> bool:
    """Stop the order's live pick (the order was cancelled or left for after-sales); audited."""
    pick = s.execute(sa.select(Pick).where(Pick.order_id == order.id, Pick.status.in_(LIVE)).with_for_update()
                     ).scalar_one_or_none()
    if pick is None:
        return False
    before = pick.status
    pick.status, pick.stopped_at, pick.stop_reason = "stopped", sa.func.clock_timestamp(), reason
    s.flush()
    audit.record(s, actor, "pick.stop", "order", order.order_no, basis=code_label("order_status", order.status),
                 before={"pick_status": before, "picker": pick.picker, "scanned": dict(pick.scanned)},
                 after={"pick_status": "stopped", "order_status": order.status})
    if pick.wave_id:
        waves.close_if_done(s, pick.wave_id)
    return True


def reconcile_after_change(s: Session, order: Order, actor: Actor) -> int:
    """After a change of the order's lines is acknowledged: counts above what the order now needs go
    back to the shelf (returned as the number of pieces to put back); a pick the change has made
    complete is confirmed, so the picker is never left with nothing to scan."""
    pick = s.execute(sa.select(Pick).where(Pick.order_id == order.id, Pick.status == "picking").with_for_update()
                     ).scalar_one_or_none()
    if pick is None:
        return 0
    view = _view(s, pick, order)
    needed = {line.barcode: line.needed for line in view.lines}
    kept = {code: min(int(n), needed.get(code, 0)) for code, n in pick.scanned.items()}
    put_back = sum(int(n) for n in pick.scanned.values()) - sum(kept.values())
    pick.scanned = {code: n for code, n in kept.items() if n}
    if view.total and all(pick.scanned.get(line.barcode, 0) >= line.needed for line in view.lines):
        pick.status, pick.confirmed_at = "confirmed", sa.func.clock_timestamp()
        pick.box_no = pick.box_no or f"{order.order_no}-1"
        s.add(ScanLog(warehouse_id=pick.warehouse_id, order_id=order.id, action="pack", barcode=order.order_no,
                      box_no=pick.box_no, operator=actor.operator, station=actor.station))
        audit.record(s, actor, "pick.confirm", "order", order.order_no, basis=None, before={"pick_status": "picking"},
                     after={"pick_status": "confirmed", "box_no": pick.box_no, "pieces": view.total,
                            "scanned": dict(pick.scanned), "put_back": put_back})
    s.flush()
    return put_back


def progress(uow: UnitOfWork, picker: str, *, at: datetime | None = None) -> Progress:
    """The picker's day (China Standard Time): orders done, orders waiting, the last three customer notes."""
    day = local(at or now()).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(CST)
    with uow:
        s = uow.session
        done = s.scalar(sa.select(sa.func.count()).select_from(Pick).where(
            Pick.picker == picker, Pick.status.in_(("confirmed", "shipped")), Pick.confirmed_at >= day,
            Pick.confirmed_at < day + timedelta(days=1))) or 0
        warehouses = list(s.scalars(sa.select(Pick.warehouse_id).where(Pick.picker == picker).distinct()))
        busy = sa.select(Pick.id).where(Pick.order_id == WaveOrder.order_id, Pick.status != "stopped").exists()
        waiting_q = (sa.select(sa.func.count()).select_from(WaveOrder).join(Wave, Wave.id == WaveOrder.wave_id)
                     .join(Order, Order.id == WaveOrder.order_id)
                     .where(WaveOrder.open, Wave.status == "open", Order.status == "allocating", ~busy))
        if warehouses:
            waiting_q = waiting_q.where(Wave.warehouse_id.in_(warehouses))
        waiting = s.scalar(waiting_q) or 0
        rows = s.execute(sa.select(Order.order_no, Order.buyer_note).join(Pick, Pick.order_id == Order.id)
                         .where(Pick.picker == picker, sa.func.coalesce(Order.buyer_note, "") != "")
                         .order_by(Pick.touched_at.desc(), Pick.id.desc()).limit(3)).all()
        return Progress(picker, int(done), int(waiting), tuple(f"{r[0]}：{r[1]}" for r in rows))


def _wave(uow: UnitOfWork, wave_no: str) -> ScanResult:
    row = waves.wave_row(uow, wave_no)
    if row is None:
        return _refused("NOT_FOUND", what="wave", key=wave_no)
    return ScanResult("wave", True, "SCAN_WAVE", {"wave_no": wave_no, "done": row.done_count, "count": row.order_count})
