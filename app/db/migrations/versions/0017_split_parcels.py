"""Split parcels: an order may leave in several parcels (部分发货), each parcel naming its lines.

Revision ID: 0017
Revises: 0015

``shipments.lines`` lists what one parcel holds (``[{"line_no", "qty", "platform_line_id"}]``); NULL is
a parcel that took the whole order, as every parcel before this revision did. ``partially_shipped``
joins the order stages (orders and the ERP's reported stage share the one list); ``accepted`` joins the
interception states (快递100 took the request, the carrier's result is still to come).
"""

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: Union[str, Sequence[str], None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_BEFORE = "'pending_payment', 'paid', 'allocating', 'shipped', 'completed', 'cancelled', 'after_sales'"
_AFTER = "'pending_payment', 'paid', 'allocating', 'partially_shipped', 'shipped', 'completed', 'cancelled', 'after_sales'"


def _stages(codes: str) -> None:
    op.drop_constraint(op.f("ck_orders_status_code"), "orders", type_="check")
    op.create_check_constraint(op.f("ck_orders_status_code"), "orders", f"status IN ({codes})")
    op.drop_constraint(op.f("ck_erp_order_status_erp_status_code"), "erp_order_status", type_="check")
    op.create_check_constraint(op.f("ck_erp_order_status_erp_status_code"), "erp_order_status",
                               f"erp_status IN ({codes})")


_INTERCEPT_BEFORE = "'requested', 'succeeded', 'failed', 'unsupported'"
_INTERCEPT_AFTER = "'requested', 'accepted', 'succeeded', 'failed', 'unsupported'"


def _intercept(codes: str) -> None:
    op.drop_constraint(op.f("ck_shipment_watch_intercept_state_code"), "shipment_watch", type_="check")
    op.create_check_constraint(op.f("ck_shipment_watch_intercept_state_code"), "shipment_watch",
                               f"intercept_state IN ({codes})")


def upgrade() -> None:
    op.add_column("shipments", sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    _stages(_AFTER)
    _intercept(_INTERCEPT_AFTER)  # 快递100 has taken an interception; the carrier's result comes later


def downgrade() -> None:
    op.execute("UPDATE orders SET status = 'allocating' WHERE status = 'partially_shipped'")
    op.execute("UPDATE erp_order_status SET erp_status = 'allocating' WHERE erp_status = 'partially_shipped'")
    _stages(_BEFORE)
    op.execute("UPDATE shipment_watch SET intercept_state = 'requested' WHERE intercept_state = 'accepted'")
    _intercept(_INTERCEPT_BEFORE)
    op.drop_column("shipments", "lines")
