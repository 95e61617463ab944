"""Read side for order lists: keyset-paged, filtered in the database, frozen rows out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.db.models import Order, Shipment, Shop, TrackingEvent, Warehouse
from app.domain.fields import CODE_LISTS
from app.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One line of an order list (no items, no receiver details: lists stay light)."""

    id: int
    order_no: str
    platform: str
    platform_order_no: str
    shop: str
    ordered_at: datetime
    customer_id: str
    original_amount: Decimal
    paid_amount: Decimal
    status: str
    tracking_no: str | None
    invoice_status: str
    province: str | None
    city: str | None
    warehouse: str | None
    ship_by: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What a list is narrowed to; ``None`` means "any"."""

    status: str | None = None
    platform: str | None = None
    shop_id: int | None = None
    province: str | None = None
    warehouse_id: int | None = None
    search: str | None = None  # 订单号 / 平台订单号 / 手机号（含后四位）/ 物流单号 / 收货人
    hours: tuple[int, int] | None = None  # 下单时段: local (China) hour of day, start inclusive, end exclusive
    risk: str | None = None  # 超时风险: a ``sla_risk`` code


#: 超时风险 "due soon": not shipped and the ship-by deadline within this many hours.
DUE_SOON_HOURS = 2
OPEN_STAGES = ("paid", "allocating")


def _risk(code: str) -> sa.ColumnElement[bool]:
    now = sa.func.now()
    unshipped = Order.status.in_(OPEN_STAGES)
    if code == "overdue":
        return sa.and_(unshipped, Order.ship_by < now)
    if code == "due_soon":
        return sa.and_(unshipped, Order.ship_by >= now, Order.ship_by < now + sa.text(f"interval '{DUE_SOON_HOURS} hours'"))
    return sa.and_(unshipped, Order.ship_by >= now + sa.text(f"interval '{DUE_SOON_HOURS} hours'"))  # on_track


def _search(term: str) -> sa.ColumnElement[bool]:
    """One box finds an order by any handle customer service is given on the phone.

    Every branch can use an index: order no. and platform order no. (unique), tracking no.,
    the phone's last four digits (platforms mask the rest), the receiver as stored.
    """
    term = term.strip()
    digits = "".join(ch for ch in term if ch.isdigit())
    options = [Order.order_no == term.upper(), Order.platform_order_no == term, Order.tracking_no == term.upper(),
               Order.receiver_name == term]
    if len(digits) >= 4 and len(digits) == len(term):
        options.append(Order.receiver_phone_tail == digits[-4:])
    return sa.or_(*options)


def _statement(flt: OrderFilter) -> sa.Select[tuple]:
    stmt = (
        sa.select(
            Order.id, Order.order_no, Order.platform, Order.platform_order_no, Shop.name, Order.ordered_at,
            Order.customer_id, Order.original_amount, Order.paid_amount, Order.status, Order.tracking_no,
            Order.invoice_status, Order.province, Order.city, Warehouse.name, Order.ship_by, Order.version,
        )
        .join(Shop, Shop.id == Order.shop_id)
        .outerjoin(Warehouse, Warehouse.id == Order.warehouse_id)
    )
    for column, value in (
        (Order.status, flt.status), (Order.platform, flt.platform), (Order.shop_id, flt.shop_id),
        (Order.province, flt.province), (Order.warehouse_id, flt.warehouse_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if flt.search:
        stmt = stmt.where(_search(flt.search))
    if flt.hours is not None:
        hour = sa.extract("hour", sa.func.timezone("Asia/Shanghai", Order.ordered_at))
        stmt = stmt.where(hour >= flt.hours[0], hour < flt.hours[1])
    if flt.risk is not None:
        stmt = stmt.where(_risk(flt.risk))
    return stmt


@dataclass(frozen=True, slots=True)
class OrderSort:
    """Which column a list is sorted by (a key of :data:`SORTABLE`), and which way; ties broken by id."""

    key: str = "ordered_at"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.key not in SORTABLE:
            object.__setattr__(self, "key", "ordered_at")  # a remembered sort on a column since removed


#: Empty values sort as these, so every row has a keyset position (NULL has none in a row comparison).
NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)
# Coded columns sort by their place in the code list (the order people know), not by the code's spelling.
_CODED = {"platform": "platform", "status": "order_status"}
SORTABLE = ("order_no", "platform", "shop", "ordered_at", "status", "paid_amount", "province", "warehouse", "ship_by",
            "tracking_no")


def _sort_expr(key: str) -> sa.ColumnElement[Any]:
    if key in _CODED:
        column = Order.platform if key == "platform" else Order.status
        return sa.case({code: n for n, code in enumerate(CODE_LISTS[_CODED[key]])}, value=column, else_=99)
    return {"order_no": Order.order_no, "shop": Shop.name, "ordered_at": Order.ordered_at, "paid_amount": Order.paid_amount,
            "province": sa.func.coalesce(Order.province, ""), "warehouse": sa.func.coalesce(Warehouse.name, ""),
            "ship_by": sa.func.coalesce(Order.ship_by, NO_TIME), "tracking_no": sa.func.coalesce(Order.tracking_no, "")}[key]


def sort_value(row: OrderRow, key: str) -> Any:
    """The value ``row`` sorts by under ``key``, as the database compares it (empty → the column's floor)."""
    if key in _CODED:
        code = row.platform if key == "platform" else row.status
        codes = list(CODE_LISTS[_CODED[key]])
        return codes.index(code) if code in codes else 99
    value = getattr(row, key)
    if value is None:
        return NO_TIME if key == "ship_by" else ""
    return value


def keyset(row: OrderRow, sort: OrderSort = OrderSort()) -> tuple[Any, int]:
    """Where the next page starts after ``row`` under ``sort``."""
    return sort_value(row, sort.key), row.id


def list_orders(
    uow: UnitOfWork, flt: OrderFilter = OrderFilter(), *, limit: int = 100, after: tuple[Any, int] | None = None,
    sort: OrderSort = OrderSort(),
) -> list[OrderRow]:
    """The orders matching ``flt`` in ``sort`` order (newest first unless told otherwise).

    Args:
        after: :func:`keyset` of the last row of the previous page, for the next page
            (keyset paging: constant time however deep the page).
        sort: the column and direction; sorting happens in the query, never over loaded rows.
    """
    expr = _sort_expr(sort.key)
    direction = (sa.desc if sort.descending else sa.asc)
    stmt = _statement(flt).order_by(direction(expr), direction(Order.id)).limit(limit)
    if after is not None:
        here, there = sa.tuple_(expr, Order.id), sa.tuple_(sa.literal(after[0], expr.type), sa.literal(after[1]))
        stmt = stmt.where(here < there if sort.descending else here > there)
    with uow:
        return [OrderRow(*row) for row in uow.session.execute(stmt)]


def count_orders(uow: UnitOfWork, flt: OrderFilter = OrderFilter()) -> int:
    """How many orders match ``flt``."""
    with uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(_statement(flt).subquery())) or 0)


def counts_by_province(uow: UnitOfWork, flt: OrderFilter = OrderFilter()) -> dict[str, int]:
    """How many orders match ``flt`` in each province (the province filter itself is ignored)."""
    base = _statement(_without_province(flt)).subquery()
    with uow:
        rows = uow.session.execute(sa.select(base.c.province, sa.func.count()).where(base.c.province.is_not(None))
                                   .group_by(base.c.province))
        return {province: int(n) for province, n in rows}


def exception_rates_by_province(uow: UnitOfWork, flt: OrderFilter = OrderFilter()) -> dict[str, float]:
    """Share of each province's orders (under ``flt``) that need attention: unshipped past the
    ship-by deadline, or in after-sales."""
    base = _statement(_without_province(flt)).subquery()
    exceptional = sa.or_(base.c.status == "after_sales",
                         sa.and_(base.c.status.in_(OPEN_STAGES), base.c.ship_by < sa.func.now()))
    with uow:
        rows = uow.session.execute(sa.select(base.c.province, sa.func.count(), sa.func.count().filter(exceptional))
                                   .where(base.c.province.is_not(None)).group_by(base.c.province))
        return {province: int(bad) / int(n) for province, n, bad in rows if n}


def province_figures(uow: UnitOfWork, flt: OrderFilter = OrderFilter()) -> tuple[dict[str, int], dict[str, float]]:
    """Order counts and exception rates per province in one group-by (the map colours by one and its
    tooltips show both)."""
    base = _statement(_without_province(flt)).subquery()
    exceptional = sa.or_(base.c.status == "after_sales",
                         sa.and_(base.c.status.in_(OPEN_STAGES), base.c.ship_by < sa.func.now()))
    with uow:
        rows = list(uow.session.execute(sa.select(base.c.province, sa.func.count(), sa.func.count().filter(exceptional))
                                        .where(base.c.province.is_not(None)).group_by(base.c.province)))
    return ({province: int(n) for province, n, _ in rows},
            {province: int(bad) / int(n) for province, n, bad in rows if n})


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """What the filter bar offers besides the code lists: this company's shops and warehouses."""

    shops: tuple[tuple[int, str], ...]
    warehouses: tuple[tuple[int, str], ...]


def filter_choices(uow: UnitOfWork) -> FilterChoices:
    with uow:
        s = uow.session
        return FilterChoices(tuple((i, n) for i, n in s.execute(sa.select(Shop.id, Shop.name).order_by(Shop.id))),
                             tuple((i, n) for i, n in s.execute(sa.select(Warehouse.id, Warehouse.name).order_by(Warehouse.id))))


def _without_province(flt: OrderFilter) -> OrderFilter:
    from dataclasses import replace

    return replace(flt, province=None)


def courier_positions(uow: UnitOfWork, flt: OrderFilter = OrderFilter(), limit: int = 500) -> list[tuple[float, float]]:
    """Where parcels still on the road were last seen (lon, lat of their newest tracking node).

    Driven from the parcels on the road (hundreds), each joined to its order by key and the filter checked
    there: an ``order_id IN (orders under the filter)`` let the planner merge-join along every order's key
    (partially shipped at 2,000,000 orders: 1,157 ms per map re-count).
    """
    where = _statement(_without_province(flt)).whereclause
    latest = (sa.select(TrackingEvent.lon, TrackingEvent.lat).where(TrackingEvent.shipment_id == Shipment.id)
              .order_by(TrackingEvent.occurred_at.desc()).limit(1).lateral())
    stmt = (sa.select(latest.c.lon, latest.c.lat).select_from(Shipment).join(Order, Order.id == Shipment.order_id)
            .join(latest, sa.true())
            .where(Shipment.status.in_(("in_transit", "delivering")), latest.c.lon.is_not(None))
            .limit(limit))
    if where is not None:
        stmt = stmt.where(where)
    with uow:
        return [(float(lon), float(lat)) for lon, lat in uow.session.execute(stmt)]
