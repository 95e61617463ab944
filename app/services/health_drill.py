"""The orders behind a health number: a point or bar clicked on the 主管 station, as an order list.

Reads the same per-order facts the sums are made of, so the list holds exactly the orders the bar
counted (tested), in the order list's own row shape and keyset paging.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.db.health_models import HealthOrderFact
from app.db.models import Order
from app.domain.actor import Actor
from app.services.health import Span
from app.services.order_queries import OrderFilter, OrderRow, _statement
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

# What a click selects → the facts condition (field dictionary "health_metric" names them).
MEASURES = {
    "orders": sa.true(),
    "shipped": HealthOrderFact.shipped,
    "on_time": HealthOrderFact.on_time,
    "real_on_time": sa.and_(HealthOrderFact.on_time, HealthOrderFact.rescues == 0),
    "nominal_on_time": HealthOrderFact.on_time,
    # late and rescued orders are exceptions: saying so lets the facts' partial index find them
    "rescued": sa.and_(HealthOrderFact.exception, HealthOrderFact.rescues > 0),
    "rescued_on_time": sa.and_(HealthOrderFact.exception, HealthOrderFact.on_time, HealthOrderFact.rescues > 0),
    "late": sa.and_(HealthOrderFact.exception, HealthOrderFact.late),
    "untraceable": sa.and_(HealthOrderFact.exception, HealthOrderFact.untraceable),
    "consistency": HealthOrderFact.mismatched,
    "mismatched": HealthOrderFact.mismatched,
}


@dataclass(frozen=True, slots=True)
class Selection:
    """A bucket or bar: the hours it covers, optionally one shop/warehouse/platform, and what it counts."""

    span: Span
    measure: str = "orders"
    shop_id: int | None = None
    warehouse_id: int | None = None  # 0: orders not assigned to a warehouse yet
    platform: str | None = None


def _facts(sel: Selection) -> sa.Select[tuple[int]]:
    f = HealthOrderFact
    stmt = sa.select(f.order_id).where(f.bucket >= sel.span.start, f.bucket < sel.span.end, MEASURES[sel.measure])
    for column, value in ((f.shop_id, sel.shop_id), (f.warehouse_id, sel.warehouse_id), (f.platform, sel.platform)):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def list_selected(uow: UnitOfWork, actor: Actor, sel: Selection, *, limit: int = 200,
                  after: tuple[datetime, int] | None = None) -> list[OrderRow]:
    """The orders a bar or point counted, newest first, paged like the order list."""
    stmt = (_statement(OrderFilter()).where(Order.id.in_(_facts(sel)))
            .order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit))
    if after is not None:
        stmt = stmt.where(sa.tuple_(Order.ordered_at, Order.id) < sa.tuple_(*after))
    with uow:
        require(uow, actor, "health.view")
        return [OrderRow(*row) for row in uow.session.execute(stmt)]


def count_selected(uow: UnitOfWork, actor: Actor, sel: Selection) -> int:
    with uow:
        require(uow, actor, "health.view")
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(_facts(sel).subquery())) or 0)
