"""A store sale is durable once its verified body is stored; its order is created afterwards.

Revision ID: 0052
Revises: 0051

The doors (app/hub/receiver.py) answer a store sale (``/pos/…``) once its signed body is committed to
``raw_payloads`` with the new status ``pending`` (received, its order not created yet); the inbox worker
(app/hub/inbox_worker.py) later claims pending payloads oldest first (``ix_raw_payloads_pending``, small: only
what waits), creates their orders in big groups and marks them ``parsed`` (or ``quarantined``) in the same
transaction. Creating the order in the answer path made the doors' PostgreSQL cost per sale (the order's
triggers: change feed, map counts, health rollups) the limit at 1,000 sales a second (issue #19).
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0052"
down_revision: Union[str, Sequence[str], None] = "0051"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_raw_payloads_status_code"), "raw_payloads", type_="check")
    op.create_check_constraint(op.f("ck_raw_payloads_status_code"), "raw_payloads",
                               "status IN ('pending', 'parsed', 'quarantined')")
    op.create_index("ix_raw_payloads_pending", "raw_payloads", ["id"], postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("ix_raw_payloads_pending", table_name="raw_payloads")
    op.execute("UPDATE raw_payloads SET status = 'quarantined', error = '降级前未生成订单的门店销售单'"
               " WHERE status = 'pending'")
    op.drop_constraint(op.f("ck_raw_payloads_status_code"), "raw_payloads", type_="check")
    op.create_check_constraint(op.f("ck_raw_payloads_status_code"), "raw_payloads", "status IN ('parsed', 'quarantined')")
