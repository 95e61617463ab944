"""The ERP's reported stage feeds 订单健康度's 状态一致性 beside the platform's.

Revision ID: 0015
Revises: 0012

``erp_order_status`` (the ERP bridge) is copied into ``order_outside_status`` with source ``erp`` by
statement triggers in the same transaction, so the health rollups (whose own triggers on
``order_outside_status`` refresh the sums) count an ERP disagreement like a platform one. A report
without a stage (only the ERP's order number) is not a status and is not copied.
"""

from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COPY = """
    INSERT INTO order_outside_status (order_id, source, stage, raw_status, reported_at)
    SELECT n.order_id, 'erp', n.erp_status, left(coalesce(n.erp_raw_status, n.erp_order_no), 40), n.reported_at
    FROM new_rows n WHERE n.erp_status IS NOT NULL
    ON CONFLICT (order_id, source) DO UPDATE SET stage = excluded.stage, raw_status = excluded.raw_status,
        reported_at = excluded.reported_at
"""


def upgrade() -> None:
    op.execute(f"""
CREATE FUNCTION health_erp_status_copied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_COPY};
    RETURN NULL;
END $$;
""")
    # transition tables need one event per trigger
    for event in ("INSERT", "UPDATE"):
        op.execute(f"""
CREATE TRIGGER health_erp_status_{event.lower()} AFTER {event} ON erp_order_status
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION health_erp_status_copied();
""")
    op.execute(f"""
WITH new_rows AS (SELECT * FROM erp_order_status)
{_COPY};
""")


def downgrade() -> None:
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS health_erp_status_{event} ON erp_order_status")
    op.execute("DROP FUNCTION IF EXISTS health_erp_status_copied()")
    op.execute("DELETE FROM order_outside_status WHERE source = 'erp'")
