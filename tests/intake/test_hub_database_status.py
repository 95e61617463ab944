"""The hub says 数据库不可用 once per outage in business words, and once that it is back; bugs are not hidden."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from app.hub.db_status import DatabaseStatus, is_lost_database
from app.services.unit_of_work import DatabaseUnavailable


def _lost_connection() -> DatabaseUnavailable:
    """What a unit of work raises when the server is not there: a real connection attempt to a socket that is not."""
    engine = sa.create_engine("postgresql+psycopg://x@/none?host=/nonexistent-orderhub-socket", poolclass=sa.pool.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as err:
        try:
            raise DatabaseUnavailable(detail="gone") from err
        except DatabaseUnavailable as wrapped:
            return wrapped
    raise AssertionError("a connection to a missing socket succeeded")


def test_an_outage_is_said_once_in_business_words_however_many_threads_meet_it_and_its_end_once(caplog):
    status, err = DatabaseStatus(), _lost_connection()
    caplog.set_level(logging.WARNING, logger="app.hub.db_status")
    assert status.failed(err, "店铺「童装旗舰店」的订单拉取")
    assert status.failed(err, "短信、ERP与发票推送")  # a second thread, the same outage
    assert status.down_for is not None
    status.ok()
    status.ok()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2
    assert said[0].startswith("数据库不可用（") and "店铺「童装旗舰店」的订单拉取暂停" in said[0]
    assert "nonexistent-orderhub-socket" in said[0]  # the driver's own detail, not the nested sentence
    assert said[1].startswith("数据库已恢复（中断 ") and status.down_for is None


@pytest.mark.parametrize("err", [ValueError("bad page"), KeyError("order_no"), RuntimeError("bug")])
def test_anything_but_a_lost_database_is_left_to_the_caller_to_log_as_a_failure(err, caplog):
    status = DatabaseStatus()
    assert not is_lost_database(err)
    assert not status.failed(err, "订单接入")
    assert status.down_for is None and not caplog.records
