"""A lost or unreachable database is a clear business message and nothing half-done, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.services import orders
from app.services.unit_of_work import DatabaseUnavailable
from tests.db.test_order_commands import CS
from tests.support.factories import make_order

REPO = Path(__file__).resolve().parents[2]


def test_an_unreachable_shared_database_is_reported_in_business_language(tmp_path):
    env = os.environ | {"ORDERHUB_DATABASE_URL": "postgresql://hub:pw@127.0.0.1:1/orderhub",
                        "ORDERHUB_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "app", "orders"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "暂时连不上订单数据库" in done.stderr and "操作未执行" in done.stderr
    assert "pw@" not in done.stderr and "Traceback" not in done.stderr


def test_a_connection_killed_mid_command_is_a_retryable_refusal_and_nothing_is_half_written(hub, pg_admin_url):
    order_no, version = make_order(hub, "paid")
    uow = hub.uow()
    with pytest.raises(DatabaseUnavailable) as caught:
        with uow:
            uow.session.execute(sa.text("SELECT 1"))
            pid = uow.session.scalar(sa.text("SELECT pg_backend_pid()"))
            admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            admin.dispose()
            uow.session.execute(sa.text("UPDATE orders SET seller_note = 'lost' WHERE order_no = :o"), {"o": order_no})
            uow.commit()
    assert "稍后重试" in caught.value.message("zh")
    # the retry goes through on a fresh connection, and the lost write never landed
    view = orders.cancel(hub.uow(), order_no, expected_version=version, actor=CS, basis="电话录音 0931")
    assert view.status == "cancelled"
    with hub.uow() as check:
        assert check.session.scalar(sa.text("SELECT seller_note FROM orders WHERE order_no = :o"), {"o": order_no}) is None
