"""Pick slips from the database: what a picker needs on paper, as :class:`app.domain.slip.PickSlip` data.

The lines come in pick-path order (the ``pick_sequence`` of each line's bin), so a picker walks
the warehouse once. A line's bin is the one its stock was reserved from; an order routed before
bins were known falls back to the SKU's first bin on the path in that warehouse. Printing itself
(layout, ESC/POS, the job queue) is the ``printers`` package's work; this module only fills the
slip and records what was sent (a reprint audited with who and why).
"""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db.models import Bin, Order, Shipment, Shop, Sku, Stock, Warehouse
from app.db.routing_models import RoutingRule, StockReservation
from app.db.warehouse_models import SlipPrint, Wave, WaveOrder
from app.domain.actor import Actor
from app.domain.clock import now
from app.domain.errors import InvalidValue, NotFound
from app.domain.fields import code_label
from app.domain.messages import render
from app.domain.slip import PickSlip, SlipLine
from app.services import audit
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require

# Lines a picker must not pick: money already back with the customer, or the line is on hold.
NOT_TO_PICK = frozenset({"refunding", "refunded", "frozen", "exchanged"})
# Orders due within this many hours print as 加急 (and sort first in a wave).
URGENT_WITHIN = timedelta(hours=4)
# Customer and seller notes worth printing for the packer: packing, gifts, wrapping, labels, the parcel.
# Everything else (「什么时候发货」, 「好评返现」) stays on screen for customer service, off the slip.
PACKING_WORDS = ("干燥剂", "赠品", "袜子", "包装", "礼盒", "礼品", "贺卡", "卡片", "吊牌", "标签", "发票", "塞", "多放", "别放",
                 "不要放", "勿放", "请勿", "不要", "分开", "一起", "纸箱", "盒子", "袋", "防压", "易碎", "气泡", "加急", "顺丰",
                 "快递", "价格", "小票", "清单")
_STAMP = re.compile(r"^\[[^\]]*\]\s*")  # 「[11-25 10:30 xiaomei] 」 written by add_warehouse_note


def packing_notes(*notes: str | None) -> tuple[str, ...]:
    """The lines of buyer and seller notes that matter to packing, without who-wrote-it stamps."""
    out: list[str] = []
    for note in notes:
        for raw in re.split(r"[\n;；]+", note or ""):
            text = _STAMP.sub("", raw).strip()
            if text and any(w in text for w in PACKING_WORDS) and text not in out:
                out.append(text)
    return tuple(out)


def priority_of(ship_by: datetime | None, notes: Iterable[str] = (), *, at: datetime | None = None) -> str:
    """"urgent" when the ship-by deadline is near (or passed) or a note asks for 加急; else "normal"."""
    if ship_by is not None and ship_by - (at or now()) <= URGENT_WITHIN:
        return "urgent"
    return "urgent" if any("加急" in n for n in notes) else "normal"


def bin_coords(zone: str, aisle: int, rack: int, level: int) -> str:
    return f"{zone}区 {aisle}排 {rack}架 {level}层"


_NO_BIN = ("—", "未分配库位", 1_000_000, "")


def shipped_by_line(session: Session, order: Order) -> dict[int, int]:
    """Pieces of each line already gone in earlier parcels (a parcel without contents took the whole order)."""
    out: dict[int, int] = {}
    for contents in session.scalars(sa.select(Shipment.lines).where(Shipment.order_id == order.id)):
        if contents is None:
            return {int(it["line_no"]): int(it.get("qty", 0)) for it in order.items}
        for ln in contents:
            out[int(ln["line_no"])] = out.get(int(ln["line_no"]), 0) + int(ln["qty"])
    return out


def order_lines(session: Session, order: Order) -> list[SlipLine]:
    """The order's lines still to pick (less what earlier parcels took), each with barcode and bin,
    sorted along the pick path."""
    gone = shipped_by_line(session, order) if order.status == "partially_shipped" else {}
    items = [dict(it, qty=int(it.get("qty", 0)) - gone.get(int(it.get("line_no", 0)), 0)) for it in order.items
             if it.get("line_status", "normal") not in NOT_TO_PICK]
    items = [it for it in items if it["qty"] > 0]
    codes = sorted({str(it["sku"]) for it in items})
    skus = {r.sku_code: r for r in session.execute(
        sa.select(Sku.id, Sku.sku_code, Sku.barcode, Sku.name, Sku.color, Sku.size).where(Sku.sku_code.in_(codes)))}
    reserved: dict[int, tuple[str, str, int, str]] = {}
    for r in session.execute(
            sa.select(StockReservation.line_no, Bin.code, Bin.zone, Bin.aisle, Bin.rack, Bin.level, Bin.pick_sequence)
            .join(Stock, Stock.id == StockReservation.stock_id).join(Bin, Bin.id == Stock.bin_id)
            .where(StockReservation.order_id == order.id, StockReservation.status == "active")
            .order_by(Bin.pick_sequence)):
        reserved.setdefault(r.line_no, (r.code, bin_coords(r.zone, r.aisle, r.rack, r.level), r.pick_sequence, r.zone))
    first_bin: dict[int, tuple[str, str, int, str]] = {}
    unplaced = [skus[str(it["sku"])].id for it in items
                if int(it.get("line_no", 0)) not in reserved and str(it["sku"]) in skus]
    if order.warehouse_id is not None and unplaced:  # only lines without a reserved bin need a look-up
        for r in session.execute(
                sa.select(Stock.sku_id, Bin.code, Bin.zone, Bin.aisle, Bin.rack, Bin.level, Bin.pick_sequence)
                .join(Bin, Bin.id == Stock.bin_id)
                .where(Stock.warehouse_id == order.warehouse_id, Stock.sku_id.in_(unplaced))
                .order_by(Bin.pick_sequence)):
            first_bin.setdefault(r.sku_id, (r.code, bin_coords(r.zone, r.aisle, r.rack, r.level), r.pick_sequence, r.zone))
    lines = []
    for it in items:
        sku = skus.get(str(it["sku"]))
        where = reserved.get(int(it.get("line_no", 0))) or (first_bin.get(sku.id) if sku else None) or _NO_BIN
        lines.append(SlipLine(
            sku_code=str(it["sku"]), barcode=sku.barcode if sku else str(it["sku"]),
            name=sku.name if sku else str(it.get("name", "")), color=sku.color if sku else str(it.get("color", "")),
            size=sku.size if sku else str(it.get("size", "")), quantity=int(it["qty"]), bin_code=where[0],
            bin_coords=where[1], pick_sequence=where[2], is_gift=bool(it.get("is_gift"))))
    lines.sort(key=lambda line: (line.pick_sequence, line.bin_code, line.sku_code))
    return lines


def first_zone(lines: Sequence[SlipLine]) -> str:
    """The zone where the pick path starts ("" for an order without bins)."""
    return lines[0].bin_code.split("-")[0] if lines and lines[0].bin_code != _NO_BIN[0] else ""


def _gifts(session: Session, order: Order) -> tuple[str, ...]:
    gift_lines = [it for it in order.items if it.get("is_gift") and it.get("line_status", "normal") not in NOT_TO_PICK]
    rules = {str(it["gift_rule"]) for it in gift_lines if it.get("gift_rule")}
    names = dict(session.execute(sa.select(RoutingRule.code, RoutingRule.name).where(RoutingRule.code.in_(rules))).all()
                 ) if rules else {}
    out = []
    for it in gift_lines:
        why = names.get(str(it.get("gift_rule")), "")
        out.append(f"{why + '：' if why else ''}{it.get('name', it['sku'])} {it.get('color', '')} ×{int(it['qty'])}".strip())
    return tuple(out)


def slip_for(session: Session, order: Order, *, wave_no: str | None = None, picker: str | None = None,
             reprint: bool = False, reason: str | None = None, at: datetime | None = None) -> PickSlip:
    """One order's slip, read in the caller's transaction."""
    shop, warehouse = session.execute(
        sa.select(Shop.name, Warehouse.name).select_from(Order).join(Shop, Shop.id == Order.shop_id)
        .outerjoin(Warehouse, Warehouse.id == Order.warehouse_id).where(Order.id == order.id)).one()
    notes = packing_notes(order.buyer_note, order.seller_note)
    return PickSlip(
        order_no=order.order_no, platform=code_label("platform", order.platform), shop=shop, warehouse=warehouse or "",
        priority=code_label("pick_priority", priority_of(order.ship_by, notes, at=at)), ship_by=order.ship_by,
        lines=tuple(order_lines(session, order)), gifts=_gifts(session, order), notes=notes, wave_no=wave_no,
        picker=picker, reprint=reprint, reprint_reason=reason if reprint else None, printed_at=at or now())


def _wave_no_of(session: Session, order_id: int) -> str | None:
    return session.scalar(sa.select(Wave.wave_no).join(WaveOrder, WaveOrder.wave_id == Wave.id)
                          .where(WaveOrder.order_id == order_id).order_by(Wave.id.desc()).limit(1))


def build_slip(uow: UnitOfWork, order_no: str, *, picker: str | None = None) -> PickSlip:
    """The slip of one order as it would print now (no record is written)."""
    with uow:
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one_or_none()
        if order is None:
            raise NotFound(what="order", key=order_no)
        return slip_for(uow.session, order, wave_no=_wave_no_of(uow.session, order.id), picker=picker)


def wave_slips(uow: UnitOfWork, wave_no: str, *, picker: str | None = None) -> list[PickSlip]:
    """Every slip of a wave, in the wave's order."""
    with uow:
        wave = uow.session.execute(sa.select(Wave).where(Wave.wave_no == wave_no)).scalar_one_or_none()
        if wave is None:
            raise NotFound(what="wave", key=wave_no)
        orders = uow.session.execute(sa.select(Order).join(WaveOrder, WaveOrder.order_id == Order.id)
                                     .where(WaveOrder.wave_id == wave.id).order_by(WaveOrder.position)).scalars().all()
        at = now()
        return [slip_for(uow.session, o, wave_no=wave_no, picker=picker, at=at) for o in orders]


def record_prints(uow: UnitOfWork, slips: Sequence[PickSlip], jobs: Mapping[str, str | None], actor: Actor, *,
                  profile: str) -> None:
    """Record slips sent to a printer (``jobs``: order no. → the printer queue's job id).

    A reprint is a key change: it needs a reason and is audited with who and why, so a second
    copy of a slip in the warehouse can always be explained.
    """
    with uow:
        require(uow, actor, "wave.reprint" if any(x.reprint for x in slips) else "wave.print")
        s = uow.session
        ids = dict(s.execute(sa.select(Order.order_no, Order.id).where(Order.order_no.in_([x.order_no for x in slips]))).all())
        waves = dict(s.execute(sa.select(Wave.wave_no, Wave.id).where(
            Wave.wave_no.in_({x.wave_no for x in slips if x.wave_no}))).all())
        for slip in slips:
            reason = audit.require_basis(actor, slip.reprint_reason, code_label("audit_action", "slip.reprint")) \
                if slip.reprint else None
            s.add(SlipPrint(order_id=ids[slip.order_no], wave_id=waves.get(slip.wave_no or ""), reprint=slip.reprint,
                            reason=reason, profile=profile, job_id=jobs.get(slip.order_no), printed_by=actor.operator,
                            station=actor.station))
            if slip.reprint:
                audit.record(s, actor, "slip.reprint", "order", slip.order_no, basis=reason, before=None,
                             after={"job_id": jobs.get(slip.order_no), "profile": profile, "wave_no": slip.wave_no})
        printed = {x.wave_no for x in slips if x.wave_no and not x.reprint}
        if printed:
            s.execute(sa.update(Wave).where(Wave.wave_no.in_(printed), Wave.printed_at.is_(None)).values(printed_at=sa.func.now()))
            for wave_no in sorted(printed):
                audit.record(s, actor, "slip.print", "wave", wave_no, basis=None, before=None,
                             after={"count": sum(1 for x in slips if x.wave_no == wave_no), "profile": profile})
        uow.commit()


def reprint_slip(uow: UnitOfWork, order_no: str, actor: Actor, reason: str | None) -> PickSlip:
    """The slip again, marked 「补打」 with the reason (checked before anything is printed)."""
    with uow:
        require(uow, actor, "wave.reprint")
    reason = audit.require_basis(actor, reason, code_label("audit_action", "slip.reprint"))
    slip = build_slip(uow, order_no)
    return replace(slip, reprint=True, reprint_reason=reason)


def slip_count(session: Session, order_ids: Iterable[int]) -> dict[int, int]:
    """How many slips were printed per order (first print and reprints)."""
    rows = session.execute(sa.select(SlipPrint.order_id, sa.func.count()).where(SlipPrint.order_id.in_(list(order_ids)))
                           .group_by(SlipPrint.order_id))
    return {r[0]: r[1] for r in rows}



# -- printing: the slips of a wave (or one 补打) laid out once and queued for the station's printer --------

PAPER = {"a5": "a5_6inch", "4in": "4inch", "80mm": "80mm", "58mm": "58mm"}  # names people use → printers' profiles


def parse_printer(spec: str) -> tuple[str, dict[str, Any]]:
    """A printer setting as (kind, arguments): ``network:HOST[:PORT]``, ``usb:VID:PID``,
    ``serial:PORT[:BAUD]``, ``file:PATH``.

    Raises:
        InvalidValue: a setting that names no printer.
    """
    kind, _, rest = spec.partition(":")
    try:
        if kind == "network":
            host, _, port = rest.partition(":")
            return kind, {"host": host, "port": int(port or 9100)}
        if kind == "usb":
            vid, _, pid = rest.partition(":")
            return kind, {"vendor_id": int(vid, 0), "product_id": int(pid, 0)}
        if kind == "serial":
            port, _, baud = rest.rpartition(":") if rest.rsplit(":", 1)[-1].isdigit() else (rest, "", "")
            return kind, {"port": port, "baudrate": int(baud or 9600)}
        if kind == "file" and rest:
            return kind, {"path": rest}
    except ValueError:
        pass
    raise InvalidValue(field="拣货单打印机", value=spec, reason="应为 network:地址:端口、usb:厂商ID:产品ID、serial:端口:波特率 或 file:路径")


class SlipPrinter:
    """The station's pick-slip printer: lays slips out for its paper, queues them (the printers' local
    queue: nothing lost when the printer is offline or out of paper), records what was sent."""

    def __init__(self, uow: Callable[[], UnitOfWork], queue: Any, *, paper: str = "a5", lang: str = "zh") -> None:
        from printers.profiles import profile

        self._uow, self.queue, self.paper, self._lang = uow, queue, paper, lang
        self.profile = profile(PAPER.get(paper, paper))  # refuses a paper of unknown width up front
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: Any, uow: Callable[[], UnitOfWork], *, lang: str = "zh") -> SlipPrinter | None:
        """The printer the settings name (None when the station has none)."""
        if not settings.slip_printer:
            return None
        from printers.backends import backend_from_settings
        from printers.queue import PrintQueue

        kind, args = parse_printer(settings.slip_printer)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        queue = PrintQueue(settings.data_dir / "print_queue.sqlite3", backend_from_settings(kind, **args))
        return cls(uow, queue, paper=settings.slip_profile, lang=lang)

    def _submit(self, slips: Sequence[PickSlip], actor: Actor) -> tuple[dict[str, str | None], int]:
        from printers.escpos_render import render_escpos
        from printers.layout import lay_out

        jobs: dict[str, str | None] = {}
        fresh: list[PickSlip] = []
        for slip in slips:
            data = render_escpos(lay_out(slip, self.profile, self._lang))
            # A wave's first print has a stable key: pressing 打印 twice queues each slip once.
            key = None if slip.reprint else f"slip:{slip.wave_no or '-'}:{slip.order_no}"
            submitted = self.queue.submit(slip.order_no, data, dedupe_key=key, reprint=slip.reprint)
            jobs[slip.order_no] = submitted.job_id
            if not submitted.duplicate:
                fresh.append(slip)
        if fresh:
            record_prints(self._uow(), fresh, jobs, actor, profile=self.paper)
        return jobs, len(fresh)

    def print_wave(self, wave_no: str, actor: Actor) -> str:
        """Queue every slip of the wave (in wave order); the answer in business language."""
        slips = wave_slips(self._uow(), wave_no)
        _, queued = self._submit(slips, actor)
        return render("WAVE_PRINTED", self._lang, wave_no=wave_no, count=queued)

    def reprint(self, order_no: str, actor: Actor, reason: str | None) -> str:
        """One slip again, marked 「补打」, with who and why audited."""
        slip = reprint_slip(self._uow(), order_no, actor, reason)
        jobs, _ = self._submit([slip], actor)
        return render("PRINT_JOB_QUEUED", self._lang, order_no=order_no, job_id=jobs[order_no])

    def status_text(self, lang: str = "zh") -> str:
        """The printer and its queue in plain words."""
        problem = self.queue.problem(lang)
        waiting = len(self.queue.waiting())
        head = problem or (render(self.queue.warning, lang) if self.queue.warning else
                           ("打印机正常" if lang == "zh" else "Printer ready"))
        tail = (f"（队列中 {waiting} 张）" if lang == "zh" else f" ({waiting} waiting)") if waiting else ""
        return f"{self.queue.backend.name}{'：' if lang == 'zh' else ': '}{head}{tail}"

    @property
    def has_problem(self) -> bool:
        return bool(self.queue.problem() or self.queue.warning)

    def retry(self) -> None:
        """The person fixed the printer: try the waiting slips now instead of after the pause."""
        self.queue.retry_now()

    def start(self) -> None:
        """Print in the background until :meth:`stop` (the queue keeps order and retries by itself)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.queue.run_forever, args=(self._stop,), name="slip-printer",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._stop is not None and self._thread is not None:
            self._stop.set()
            self._thread.join(5)
        self.queue.close()
