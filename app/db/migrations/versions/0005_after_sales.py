"""After-sales flows as data: flow versions, case steps, 红字确认单, SMS log; two more case states.

Flow versions and case steps are append-only (triggers refuse UPDATE, DELETE and TRUNCATE, even
under session_replication_role = replica). A parallel branch to 0004: upgrading applies every head.

Revision ID: 0005
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APPEND_ONLY = ("after_sales_flow_versions", "after_sales_events")
OLD_STATES = ("requested", "approved", "awaiting_return", "received", "refunded", "exchange_created", "reshipped",
              "closed", "rejected")
NEW_STATES = OLD_STATES + ("out_of_stock", "inspected")


def _states(codes: tuple[str, ...]) -> str:
    return "state IN (" + ", ".join(f"'{c}'" for c in codes) + ")"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "after_sales_flows",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
        sa.CheckConstraint("version >= 1", name=op.f("ck_after_sales_flows_version_positive")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_after_sales_flows")),
    )
    op.create_table(
        "after_sales_flow_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("flow_code", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("author", sa.String(length=60), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("jsonb_typeof(definition) = 'object'",
                           name=op.f("ck_after_sales_flow_versions_definition_is_object")),
        sa.ForeignKeyConstraint(["flow_code"], ["after_sales_flows.code"],
                                name=op.f("fk_after_sales_flow_versions_flow_code_after_sales_flows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_sales_flow_versions")),
        sa.UniqueConstraint("flow_code", "version", name="uq_after_sales_flow_versions_code_version"),
    )
    op.create_table(
        "after_sales_case_extras",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("context", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["after_sales_cases.id"], ondelete="CASCADE",
                                name=op.f("fk_after_sales_case_extras_case_id_after_sales_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_after_sales_case_extras")),
    )
    op.create_table(
        "after_sales_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=60), nullable=False),
        sa.Column("station", sa.String(length=60), nullable=True),
        sa.Column("station_ip", postgresql.INET(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["after_sales_cases.id"],
                                name=op.f("fk_after_sales_events_case_id_after_sales_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_after_sales_events")),
        sa.UniqueConstraint("case_id", "seq", name="uq_after_sales_events_case_seq"),
    )
    op.create_table(
        "red_letter_confirmations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("confirm_no", sa.String(length=40), nullable=False),
        sa.Column("blue_invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("reason", sa.String(length=2), nullable=False),
        sa.Column("initiator", sa.String(length=1), server_default=sa.text("'0'"), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("red_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("red_tax", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("void_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("red_invoice_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("state IN ('01','02','03','04','05','06','07','08','09','10')",
                           name=op.f("ck_red_letter_confirmations_state_code")),
        sa.CheckConstraint("reason IN ('01','02','03','04')", name=op.f("ck_red_letter_confirmations_reason_code")),
        sa.CheckConstraint("initiator IN ('0','1')", name=op.f("ck_red_letter_confirmations_initiator_code")),
        sa.ForeignKeyConstraint(["blue_invoice_id"], ["invoices.id"],
                                name=op.f("fk_red_letter_confirmations_blue_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["case_id"], ["after_sales_cases.id"],
                                name=op.f("fk_red_letter_confirmations_case_id_after_sales_cases")),
        sa.ForeignKeyConstraint(["red_invoice_id"], ["invoices.id"],
                                name=op.f("fk_red_letter_confirmations_red_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_letter_confirmations")),
        sa.UniqueConstraint("confirm_no", name=op.f("uq_red_letter_confirmations_confirm_no")),
    )
    op.create_index("ix_red_letter_open_due", "red_letter_confirmations", ["state", "void_due_at"], unique=False)
    op.create_table(
        "sms_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("outbox_id", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("sign_name", sa.String(length=40), nullable=False),
        sa.Column("template_code", sa.String(length=40), nullable=False),
        sa.Column("template_param", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("biz_id", sa.String(length=60), nullable=True),
        sa.Column("request_id", sa.String(length=60), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_sms_log_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_log")),
    )
    op.create_index("ix_sms_log_outbox", "sms_log", ["outbox_id"], unique=False)
    op.drop_constraint(op.f("ck_after_sales_cases_state_code"), "after_sales_cases", type_="check")
    op.create_check_constraint(op.f("ck_after_sales_cases_state_code"), "after_sales_cases", _states(NEW_STATES))
    op.add_column("invoices", sa.Column("buyer_confirmed", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.execute("""
CREATE FUNCTION after_sales_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
""" + "".join(f"""
CREATE TRIGGER {t}_no_change BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION after_sales_refuse_change();
CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT EXECUTE FUNCTION after_sales_refuse_change();
ALTER TABLE {t} ENABLE ALWAYS TRIGGER {t}_no_change;
ALTER TABLE {t} ENABLE ALWAYS TRIGGER {t}_no_truncate;
""" for t in APPEND_ONLY))


def downgrade() -> None:
    """Downgrade schema (cases in the two new states go back to 已同意 / 已收货待检)."""
    for t in APPEND_ONLY:
        op.execute(f"DROP TRIGGER {t}_no_change ON {t}; DROP TRIGGER {t}_no_truncate ON {t}")
    op.execute("DROP FUNCTION after_sales_refuse_change()")
    op.drop_constraint(op.f("ck_after_sales_cases_state_code"), "after_sales_cases", type_="check")
    op.execute("UPDATE after_sales_cases SET state = 'approved' WHERE state = 'out_of_stock'")
    op.execute("UPDATE after_sales_cases SET state = 'received' WHERE state = 'inspected'")
    op.create_check_constraint(op.f("ck_after_sales_cases_state_code"), "after_sales_cases", _states(OLD_STATES))
    op.drop_column("invoices", "buyer_confirmed")
    op.drop_index("ix_sms_log_outbox", table_name="sms_log")
    op.drop_table("sms_log")
    op.drop_index("ix_red_letter_open_due", table_name="red_letter_confirmations")
    op.drop_table("red_letter_confirmations")
    op.drop_table("after_sales_events")
    op.drop_table("after_sales_case_extras")
    op.drop_table("after_sales_flow_versions")
    op.drop_table("after_sales_flows")
