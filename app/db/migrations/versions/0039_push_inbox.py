"""Platform pushes become a durable inbox: the message is stored when answered, the order detail fetched after.

Revision ID: 0039
Revises: 0037

``inbound_messages`` already held every pushed message id (a repeat stores nothing). It now also says
which shop and platform order the message names and where its detail fetch stands: ``state`` is
``pending`` until the order's detail is stored (then ``done``, in the same transaction as the order),
``attempts``/``last_error`` say how fetching went, ``next_try_at`` when the inbox worker may try again
(also the lease of a worker that claimed it: a hub that dies mid-fetch leaves it to be claimed again).
Rows from before this revision were stored together with their order: ``done``.
``inbound_message_attempts`` keeps every fetch attempt for the order's story.
"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: Union[str, Sequence[str], None] = "0037"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("inbound_messages", sa.Column("shop_id", sa.BigInteger(), nullable=True))
    op.add_column("inbound_messages", sa.Column("platform_order_no", sa.String(64), nullable=True))
    op.add_column("inbound_messages", sa.Column("state", sa.String(12), server_default="done", nullable=False))
    op.add_column("inbound_messages", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("inbound_messages", sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("inbound_messages", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("inbound_messages", sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(op.f("fk_inbound_messages_shop_id_shops"), "inbound_messages", "shops", ["shop_id"], ["id"])
    op.create_check_constraint(op.f("ck_inbound_messages_state_code"), "inbound_messages", "state IN ('pending', 'done')")
    op.create_index(op.f("ix_inbound_messages_due"), "inbound_messages", ["next_try_at", "id"],
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_index(op.f("ix_inbound_messages_order"), "inbound_messages", ["shop_id", "platform_order_no"])
    op.create_table(
        "inbound_message_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["inbound_messages.id"], ondelete="CASCADE",
                                name=op.f("fk_inbound_message_attempts_message_id_inbound_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message_attempts")),
    )
    op.create_index(op.f("ix_inbound_message_attempts_message_id"), "inbound_message_attempts", ["message_id"])


def downgrade() -> None:
    op.drop_table("inbound_message_attempts")
    op.drop_index("ix_inbound_messages_order", table_name="inbound_messages")
    op.drop_index("ix_inbound_messages_due", table_name="inbound_messages")
    op.drop_constraint(op.f("ck_inbound_messages_state_code"), "inbound_messages", type_="check")
    op.drop_constraint(op.f("fk_inbound_messages_shop_id_shops"), "inbound_messages", type_="foreignkey")
    for column in ("done_at", "last_error", "next_try_at", "attempts", "state", "platform_order_no", "shop_id"):
        op.drop_column("inbound_messages", column)
