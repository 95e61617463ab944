"""Health permissions: who may read the supervisor's health board (health.view) and export the week's report (health.export).

Revision ID: 0024
Revises: 0022

The grants are written out here so this revision never changes when app/domain/permissions.py does:
supervisor and admin both; the customer-service and warehouse leads view (they steer their own teams
with it) but do not send the report out. Downgrade removes every grant of these actions.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: Union[str, Sequence[str], None] = "0022"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ACTIONS = ("health.view", "health.export")
DEFAULT_GRANTS = [("cs_lead", "health.view"), ("wh_lead", "health.view"), ("supervisor", "health.view"),
                  ("supervisor", "health.export"), ("admin", "health.view"), ("admin", "health.export")]


def upgrade() -> None:
    grants = sa.table('role_permissions', sa.column('role', sa.String), sa.column('action', sa.String),
                      sa.column('granted_by', sa.String))
    op.bulk_insert(grants, [{"role": r, "action": a, "granted_by": "system:migration"} for r, a in DEFAULT_GRANTS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM role_permissions WHERE action = ANY(:actions)")
               .bindparams(actions=list(ACTIONS)))
