"""Join the three lines that grew from 0003 (after-sales, sync, warehouse) into one.

Revision ID: 0008
Revises: 0005, 0006, 0007

A merge revision only: released migrations are never rewritten, so the branches that each issue
started from 0003 meet here and every later migration has one parent.
"""

from collections.abc import Sequence
from typing import Union

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = ("0005", "0006", "0007")
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
