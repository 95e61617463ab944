"""Change notices for the warehouse: one open notice per order sums up every change since the picker
last acknowledged it, whoever made the change (the platform through ingest, or a station).

Both paths call :func:`fold` inside their own transaction, so a change and its notice commit
together. The database keeps "one open notice per order" (a partial unique index); folding is
an ``INSERT … ON CONFLICT DO UPDATE`` on that index, so two changes arriving at once still end
in one notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.db.models import ChangeNotice, Order, Warehouse
from app.db.warehouse_models import Pick
from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError, NotFound
from app.domain.fields import Lang, code_label
from app.domain.messages import render
from app.services import audit
from app.services.unit_of_work import UnitOfWork
from app.services.permissions import require


def fold(session: Session, order: Order, kinds: Sequence[str], *, interception: bool, by: str | None = None,
         detail: str | None = None) -> None:
    """Add one change of ``order`` to its open notice (opening one if there is none).

    Args:
        kinds: what changed, codes of the ``change_kind`` list ("address", "items", "cancel", "note"…).
        interception: the change must stop or redirect work already under way.
        by: who made the change (a person's login, or the platform).
        detail: a short text worth showing as it is (the warehouse note itself).
    """
    change = {"at": clock.now().isoformat(), "kinds": list(kinds), "version": order.version,
              "status": order.status, "receiver_address": order.receiver_address}
    if by:
        change["by"] = by
    if detail:
        change["detail"] = detail
    stmt = pg_insert(ChangeNotice).values(order_id=order.id, warehouse_id=order.warehouse_id, interception=interception,
                                          kinds=sorted(set(kinds)), changes=[change], change_count=1)
    existing = ChangeNotice.__table__.c
    session.execute(stmt.on_conflict_do_update(
        index_elements=[existing.order_id], index_where=existing.status == "open",
        set_={
            "kinds": sa.text("(SELECT jsonb_agg(DISTINCT k ORDER BY k) FROM jsonb_array_elements_text("
                             "change_notices.kinds || excluded.kinds) AS k)"),
            "changes": existing.changes.op("||")(stmt.excluded.changes),
            "change_count": existing.change_count + 1,
            "interception": existing.interception | stmt.excluded.interception,
            "warehouse_id": sa.func.coalesce(stmt.excluded.warehouse_id, existing.warehouse_id),
            "last_at": sa.func.now(),
        }))


@dataclass(frozen=True, slots=True)
class NoticeView:
    """One open (or acknowledged) notice as a station shows it."""

    id: int
    order_no: str
    order_status: str
    warehouse: str | None
    picker: str | None
    kinds: tuple[str, ...]
    change_count: int
    interception: bool
    first_at: datetime
    last_at: datetime
    changes: tuple[dict[str, Any], ...]
    status: str = "open"
    put_back: int = 0  # after acknowledging a change of lines: pieces already picked that go back

    def summary(self, lang: Lang = "zh") -> str:
        """「收货地址变更 ×4、订单取消（共 5 次变更）」: every kind with how often it happened."""
        counts: dict[str, int] = {}
        for change in self.changes:
            for kind in change.get("kinds", []):
                counts[kind] = counts.get(kind, 0) + 1
        sep = "、" if lang == "zh" else ", "
        kinds = sep.join(code_label("change_kind", k, lang) + (f" ×{n}" if n > 1 else "") for k, n in counts.items())
        return render("NOTICE_SUMMARY", lang, kinds=kinds, count=self.change_count)

    def details(self, lang: Lang = "zh") -> tuple[str, ...]:
        """The notes written for the warehouse and the newest address, as the picker must read them."""
        out = [c["detail"] for c in self.changes if c.get("detail")]
        addresses = [c for c in self.changes if "address" in c.get("kinds", [])]
        if addresses and addresses[-1].get("receiver_address"):
            out.append(("新地址：" if lang == "zh" else "New address: ") + addresses[-1]["receiver_address"])
        return tuple(out)


_COLUMNS = (ChangeNotice.id, Order.order_no, Order.status, Warehouse.name, Pick.picker, ChangeNotice.kinds,
            ChangeNotice.change_count, ChangeNotice.interception, ChangeNotice.first_at, ChangeNotice.last_at,
            ChangeNotice.changes, ChangeNotice.status)


def _query() -> sa.Select[Any]:
    live = sa.and_(Pick.order_id == ChangeNotice.order_id, Pick.status.in_(("picking", "confirmed")))
    return (sa.select(*_COLUMNS).join(Order, Order.id == ChangeNotice.order_id)
            .outerjoin(Warehouse, Warehouse.id == ChangeNotice.warehouse_id).outerjoin(Pick, live))


def _view(row: Any) -> NoticeView:
    return NoticeView(row[0], row[1], row[2], row[3], row[4], tuple(row[5] or ()), row[6], row[7], row[8], row[9],
                      tuple(row[10] or ()), row[11])


def open_notices(uow: UnitOfWork, *, picker: str | None = None, warehouse_id: int | None = None,
                 limit: int = 200) -> list[NoticeView]:
    """Open notices, newest change first: a picker's own (orders they are picking), or a warehouse's."""
    with uow:
        query = _query().where(ChangeNotice.status == "open")
        if picker is not None:
            query = query.where(Pick.picker == picker)
        if warehouse_id is not None:
            query = query.where(ChangeNotice.warehouse_id == warehouse_id)
        return [_view(r) for r in uow.session.execute(query.order_by(ChangeNotice.last_at.desc()).limit(limit))]


def open_notice_for(session: Session, order_id: int) -> NoticeView | None:
    """The order's open notice, read inside the caller's transaction."""
    row = session.execute(_query().where(ChangeNotice.order_id == order_id, ChangeNotice.status == "open")).first()
    return _view(row) if row is not None else None


def acknowledge(uow: UnitOfWork, order_no: str, actor: Actor) -> NoticeView:
    """The picker has read the order's notice: close it (audited). The next change opens a new one.

    A notice that includes a cancellation also stops the order's pick (audited as well).

    Raises:
        NotFound: no such order. BusinessError NOTICE_NONE: nothing open to acknowledge.
    """
    with uow:
        require(uow, actor, "notice.acknowledge")
        s = uow.session
        order = s.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one_or_none()
        if order is None:
            raise NotFound(what="order", key=order_no)
        notice = s.execute(sa.select(ChangeNotice).where(ChangeNotice.order_id == order.id,
                                                         ChangeNotice.status == "open").with_for_update()
                           ).scalar_one_or_none()
        if notice is None:
            raise BusinessError("NOTICE_NONE", order_no=order_no)
        view = open_notice_for(s, order.id)
        notice.status, notice.acknowledged_by = "acknowledged", actor.operator
        notice.acknowledged_at = sa.func.now()
        audit.record(s, actor, "notice.acknowledge", "order", order_no, basis=None,
                     before={"kinds": notice.kinds, "change_count": notice.change_count},
                     after={"status": "acknowledged", "interception": notice.interception})
        from app.services.picking import reconcile_after_change, stop_live_pick

        put_back = 0
        if order.status in ("cancelled", "after_sales"):
            stop_live_pick(s, order, actor, reason="cancelled")
        elif "items" in (notice.kinds or []):
            put_back = reconcile_after_change(s, order, actor)
        uow.commit()
    assert view is not None
    return replace(view, status="acknowledged", put_back=put_back)
