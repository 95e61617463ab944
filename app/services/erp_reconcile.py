"""Reconciliation: the ERP's stage of each order against ours, with the list of orders where they differ.

Read by the hub on a timer, by `orderhub erp reconcile`, and by the health index (状态一致性 = orders
whose stages agree ÷ orders the ERP has reported on). A difference while our own events to the
ERP are still on their way is marked ``in_flight``: the ERP has simply not heard yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One order whose stage in the ERP is not ours."""

    order_no: str
    ours: str
    erp: str
    erp_order_no: str | None
    erp_raw_status: str | None
    reported_at: datetime
    in_flight: bool  # events for this order are still waiting to reach the ERP


@dataclass(frozen=True, slots=True)
class Consistency:
    """状态一致性: how many orders were compared and how many agree; ``ratio`` is None when none were."""

    compared: int
    matching: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ratio(self) -> float | None:
        return self.matching / self.compared if self.compared else None


_SQL = sa.text("""
    SELECT o.order_no, o.status, e.erp_status, e.erp_order_no, e.erp_raw_status, e.reported_at,
           EXISTS (SELECT 1 FROM erp_deliveries d JOIN outbox m ON m.id = d.outbox_id
                   WHERE d.order_id = o.id AND m.status <> 'sent') AS in_flight
    FROM erp_order_status e JOIN orders o ON o.id = e.order_id
    WHERE e.erp_status IS NOT NULL AND e.erp_status <> o.status
    ORDER BY e.reported_at, o.order_no
    LIMIT :limit""")


def reconcile(uow: UnitOfWork, *, limit: int = 10_000) -> Consistency:
    """Compare every order the ERP reported a stage for with ours."""
    with uow:
        s = uow.session
        compared = s.scalar(sa.text("SELECT count(*) FROM erp_order_status WHERE erp_status IS NOT NULL")) or 0
        different = s.scalar(sa.text("""SELECT count(*) FROM erp_order_status e JOIN orders o ON o.id = e.order_id
                                        WHERE e.erp_status IS NOT NULL AND e.erp_status <> o.status""")) or 0
        rows = tuple(Mismatch(*r) for r in s.execute(_SQL, {"limit": limit}))
        return Consistency(compared, compared - different, rows)
