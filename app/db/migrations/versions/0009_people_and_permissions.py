"""People and permissions: passwords (argon2 hashes), lockout, sessions, and role → action grants as data.

Revision ID: 0009
Revises: 0008

Seeds the grants a new company starts with (written out here, not imported, so this released
revision never changes when the defaults in app/domain/permissions.py do) and the hub's named
service account ``system:hub``. ``orderhub_password_hash(login)`` (SECURITY DEFINER) is the one
way a station role reads a hash: the column itself is not readable by it (see app/db/roles.py).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

DEFAULT_GRANTS = [
    ('cs', 'order.cancel'),
    ('cs', 'order.change_address'),
    ('cs', 'order.add_warehouse_note'),
    ('cs', 'order.change_status'),
    ('cs', 'order.hold'),
    ('cs', 'order.release_hold'),
    ('cs', 'after_sales.open'),
    ('cs', 'after_sales.step'),
    ('cs', 'after_sales.respond'),
    ('cs', 'red_letter.move'),
    ('cs', 'outbox.acknowledge'),
    ('cs_lead', 'order.cancel'),
    ('cs_lead', 'order.change_address'),
    ('cs_lead', 'order.add_warehouse_note'),
    ('cs_lead', 'order.change_status'),
    ('cs_lead', 'order.override_status'),
    ('cs_lead', 'order.hold'),
    ('cs_lead', 'order.release_hold'),
    ('cs_lead', 'order.route'),
    ('cs_lead', 'after_sales.open'),
    ('cs_lead', 'after_sales.step'),
    ('cs_lead', 'after_sales.respond'),
    ('cs_lead', 'red_letter.move'),
    ('cs_lead', 'outbox.retry'),
    ('cs_lead', 'outbox.acknowledge'),
    ('picker', 'pick.scan'),
    ('picker', 'notice.acknowledge'),
    ('wh_lead', 'order.add_warehouse_note'),
    ('wh_lead', 'order.hold'),
    ('wh_lead', 'order.release_hold'),
    ('wh_lead', 'wave.create'),
    ('wh_lead', 'wave.print'),
    ('wh_lead', 'wave.reprint'),
    ('wh_lead', 'pick.scan'),
    ('wh_lead', 'notice.acknowledge'),
    ('wh_lead', 'outbox.acknowledge'),
    ('supervisor', 'order.cancel'),
    ('supervisor', 'order.change_address'),
    ('supervisor', 'order.add_warehouse_note'),
    ('supervisor', 'order.change_status'),
    ('supervisor', 'order.override_status'),
    ('supervisor', 'order.hold'),
    ('supervisor', 'order.release_hold'),
    ('supervisor', 'order.route'),
    ('supervisor', 'after_sales.open'),
    ('supervisor', 'after_sales.step'),
    ('supervisor', 'after_sales.respond'),
    ('supervisor', 'wave.create'),
    ('supervisor', 'wave.print'),
    ('supervisor', 'wave.reprint'),
    ('supervisor', 'pick.scan'),
    ('supervisor', 'notice.acknowledge'),
    ('supervisor', 'rule.save'),
    ('supervisor', 'rule.enable'),
    ('supervisor', 'red_letter.move'),
    ('supervisor', 'quarantine.retry'),
    ('supervisor', 'outbox.retry'),
    ('supervisor', 'outbox.acknowledge'),
    ('admin', 'order.cancel'),
    ('admin', 'order.change_address'),
    ('admin', 'order.add_warehouse_note'),
    ('admin', 'order.change_status'),
    ('admin', 'order.override_status'),
    ('admin', 'order.hold'),
    ('admin', 'order.release_hold'),
    ('admin', 'order.route'),
    ('admin', 'after_sales.open'),
    ('admin', 'after_sales.step'),
    ('admin', 'after_sales.respond'),
    ('admin', 'after_sales.flow_save'),
    ('admin', 'wave.create'),
    ('admin', 'wave.print'),
    ('admin', 'wave.reprint'),
    ('admin', 'pick.scan'),
    ('admin', 'notice.acknowledge'),
    ('admin', 'rule.save'),
    ('admin', 'rule.enable'),
    ('admin', 'red_letter.move'),
    ('admin', 'quarantine.retry'),
    ('admin', 'outbox.retry'),
    ('admin', 'outbox.acknowledge'),
    ('admin', 'users.manage'),
    ('admin', 'permissions.edit'),
    ('service', 'order.cancel'),
    ('service', 'order.change_address'),
    ('service', 'order.add_warehouse_note'),
    ('service', 'order.change_status'),
    ('service', 'order.override_status'),
    ('service', 'order.hold'),
    ('service', 'order.release_hold'),
    ('service', 'order.route'),
    ('service', 'after_sales.open'),
    ('service', 'after_sales.step'),
    ('service', 'after_sales.respond'),
    ('service', 'wave.create'),
    ('service', 'wave.print'),
    ('service', 'wave.reprint'),
    ('service', 'pick.scan'),
    ('service', 'notice.acknowledge'),
    ('service', 'red_letter.move'),
    ('service', 'quarantine.retry'),
    ('service', 'outbox.retry'),
    ('service', 'outbox.acknowledge'),
]


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('users', sa.Column('password_hash', sa.String(length=200), nullable=True))
    op.add_column('users', sa.Column('failed_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('users', sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('must_change_password', sa.Boolean(), server_default=sa.text('false'),
                                     nullable=False))
    op.add_column('users', sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
    op.create_check_constraint(
        op.f('ck_users_role'), 'users', "role IN ('cs', 'cs_lead', 'picker', 'wh_lead', 'supervisor', 'admin', 'service')")
    op.create_table('role_permissions',
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('granted_by', sa.String(length=60), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('role', 'action', name=op.f('pk_role_permissions'))
    )
    op.create_table('auth_sessions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('login', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('station', sa.String(length=60), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['login'], ['users.login'], name=op.f('fk_auth_sessions_login_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_auth_sessions_token_sha256'))
    )
    op.create_index('ix_auth_sessions_open', 'auth_sessions', ['login'], unique=False,
                    postgresql_where=sa.text('ended_at IS NULL'))
    grants = sa.table('role_permissions', sa.column('role', sa.String), sa.column('action', sa.String),
                      sa.column('granted_by', sa.String))
    op.bulk_insert(grants, [{"role": r, "action": a, "granted_by": "system:migration"} for r, a in DEFAULT_GRANTS])
    op.execute("INSERT INTO users (login, display_name, role) VALUES ('system:hub', '系统服务账号（hub）', 'service') "
               "ON CONFLICT (login) DO NOTHING")
    op.execute("""
        CREATE FUNCTION orderhub_password_hash(p_login text) RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT password_hash FROM users WHERE login = p_login AND enabled $$
    """)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP FUNCTION IF EXISTS orderhub_password_hash(text)")
    op.execute("DELETE FROM users WHERE role = 'service'")
    op.drop_index('ix_auth_sessions_open', table_name='auth_sessions', postgresql_where=sa.text('ended_at IS NULL'))
    op.drop_table('auth_sessions')
    op.drop_table('role_permissions')
    op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role'), 'users', "role IN ('cs', 'cs_lead', 'picker', 'wh_lead', 'supervisor', 'admin')")
    op.drop_column('users', 'last_sign_in_at')
    op.drop_column('users', 'must_change_password')
    op.drop_column('users', 'locked_until')
    op.drop_column('users', 'failed_attempts')
    op.drop_column('users', 'password_hash')
