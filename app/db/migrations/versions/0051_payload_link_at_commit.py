"""Intake stores each payload already linked to its order; the link's foreign key is checked at commit.

Revision ID: 0051
Revises: 0047

Intake (app/services/ingest.py) stored a page's payloads first, unlinked, and after COPYing the new orders
linked them with ``UPDATE raw_payloads SET order_id``: every payload row (≈2 KB compressed body) written a
second time, with its WAL, five new index entries (``order_id`` is indexed, so the update is never HOT) and
a dead row for vacuum. Now the payload is inserted with the id its new order is about to get (drawn from the
orders' sequence in the same statement), and the orders row follows in the same transaction, so the check
``fk_raw_payloads_order_id_orders`` makes must wait for the commit: ``DEFERRABLE INITIALLY DEFERRED``. It still
checks every row, and a transaction leaving a payload linked to no order still fails, at commit.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0051"
down_revision: Union[str, Sequence[str], None] = "0047"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("ALTER TABLE raw_payloads ALTER CONSTRAINT fk_raw_payloads_order_id_orders DEFERRABLE INITIALLY DEFERRED")


def downgrade() -> None:
    op.execute("ALTER TABLE raw_payloads ALTER CONSTRAINT fk_raw_payloads_order_id_orders NOT DEFERRABLE")
