"""The order map's figures from the counts kept by migration 0020, not from a scan of every order.

A filter the counts can answer (status, platform, shop, warehouse, whole 下单时段 bands) sums a
few thousand count rows however many orders there are; the exception rate adds the unshipped
orders past their deadline, read through a partial index of unshipped orders only. A filter the
counts cannot answer (超时风险, or an hour range that splits a band) falls back to the group-by.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from app.db.map_models import OrderMapCount, OrderMapDelta
from app.db.models import Order
from app.domain.hour_bands import bands_for
from app.services import order_queries
from app.services.order_queries import OPEN_STAGES, OrderFilter
from app.services.unit_of_work import UnitOfWork

#: a reader folds the deltas itself once this many are waiting (normally the hub has folded them)
FOLD_AT = 2000


def answerable(flt: OrderFilter) -> bool:
    """Whether the counts hold the answer for ``flt`` (the province and the search never narrow the map)."""
    return flt.risk is None and (flt.hours is None or bands_for(flt.hours) is not None)


def fold(uow: UnitOfWork) -> int:
    """Move the writers' deltas into the counts (a no-op when someone else is folding); returns rows touched."""
    with uow:
        moved = int(uow.session.scalar(sa.text("SELECT order_map_fold()")) or 0)
        uow.commit()
    return moved


def _keyed(table: type[OrderMapCount] | type[OrderMapDelta], flt: OrderFilter) -> sa.Select[tuple]:
    stmt = sa.select(table.province.label("province"), table.status.label("status"), table.orders.label("orders"))
    for column, value in ((table.status, flt.status), (table.platform, flt.platform), (table.shop_id, flt.shop_id),
                          (table.warehouse_id, flt.warehouse_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    bands = bands_for(flt.hours)
    if bands is not None:
        stmt = stmt.where(table.hour_band.in_(bands))
    return stmt


def _overdue(flt: OrderFilter) -> sa.Select[tuple] | None:
    """Unshipped orders past their ship-by time, per province: one index-only range of the overdue entries of the
    partial index of unshipped orders, whatever the filter (None when the filter's status is never unshipped).

    The filter is applied in the count (FILTER), not in WHERE: with ``status = 'paid'`` in WHERE the planner,
    which cannot see that open orders are the newest ones, walked every 已付款 order of the table through
    ``ix_orders_status_ordered`` (2,000,000 orders: 2,538 rows, 2,559 buffers, 2.0 ms for 152 overdue ones;
    200,000: 307 rows), a read that grows with the table. The overdue entries are few (they are a backlog, not
    history), so counting them all and keeping the filter's share leaves no other plan to choose.
    """
    if flt.status is not None and flt.status not in OPEN_STAGES:
        return None
    keyed = ((Order.status, flt.status), (Order.platform, flt.platform), (Order.shop_id, flt.shop_id),
             (Order.warehouse_id, flt.warehouse_id))
    wanted = [column == value for column, value in keyed if value is not None]
    bands = bands_for(flt.hours)
    if bands is not None:
        wanted.append(sa.func.order_hour_band(Order.ordered_at).in_(bands))
    late = sa.func.count()
    if wanted:
        late = late.filter(sa.and_(*wanted))
    return (sa.select(Order.province, late)
            .where(Order.status.in_(OPEN_STAGES), Order.ship_by < sa.func.now(), Order.province.is_not(None))
            .group_by(Order.province))


def province_figures(uow: UnitOfWork, flt: OrderFilter = OrderFilter()) -> tuple[dict[str, int], dict[str, float]]:
    """Order counts and exception rates (after-sales or unshipped past the deadline) per province under ``flt``."""
    flt = replace(flt, province=None, search=None)
    if not answerable(flt):
        return order_queries.province_figures(uow, flt)
    both = sa.union_all(_keyed(OrderMapCount, flt), _keyed(OrderMapDelta, flt)).subquery()
    summed = (sa.select(both.c.province, sa.func.sum(both.c.orders),
                        sa.func.coalesce(sa.func.sum(both.c.orders).filter(both.c.status == "after_sales"), 0))
              .group_by(both.c.province))
    with uow:
        rows = list(uow.session.execute(summed))
        overdue = _overdue(flt)
        late = {p: int(n) for p, n in uow.session.execute(overdue)} if overdue is not None else {}
        # the hub folds every few seconds; without a hub running, the reader keeps the deltas few itself
        if uow.session.scalar(sa.select(sa.func.count()).select_from(
                sa.select(OrderMapDelta.id).limit(FOLD_AT).subquery())) >= FOLD_AT:
            uow.session.execute(sa.text("SELECT order_map_fold()"))
            uow.commit()
    counts = {p: int(n) for p, n, _ in rows if n}
    rates = {p: (int(after) + int(late.get(p, 0))) / int(n) for p, n, after in rows if n}
    return counts, rates
