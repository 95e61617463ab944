"""Admin station and ERP bridge permissions: grant the five new actions to the administrator (and erp.manage to the hub).

Revision ID: 0014
Revises: 0013

0009 is released and never changes; the actions added since (shops, master data import, platform
fields, printers, the ERP and e-invoice connections) get their default rows here, written out so this
revision never changes when app/domain/permissions.py does. Downgrade removes every grant of these
actions (the code before 0014 does not know them).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ACTIONS = ("shops.manage", "master_data.import", "field_defs.manage", "printers.manage", "erp.manage")
DEFAULT_GRANTS = [("admin", action) for action in ACTIONS] + [("service", "erp.manage")]  # hub --simulate sets up its ERP


def upgrade() -> None:
    grants = sa.table('role_permissions', sa.column('role', sa.String), sa.column('action', sa.String),
                      sa.column('granted_by', sa.String))
    op.bulk_insert(grants, [{"role": r, "action": a, "granted_by": "system:migration"} for r, a in DEFAULT_GRANTS])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM role_permissions WHERE action = ANY(:actions)")
               .bindparams(actions=list(ACTIONS)))
