"""Sign-ins made while the database was away reach the server's audit trail once it is back, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.bootstrap import connect_or_offline
from app.domain import clock
from app.domain.errors import BusinessError
from app.services import auth
from app.sync import applier
from app.ui.station import end_session, station_known_users
from tests.conftest import STAFF_PASSWORD


def _offline_records(hub) -> list[sa.Row]:
    with hub.engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT action, operator, station, host(station_ip) AS ip, after FROM audit_log "
            "WHERE (after->>'offline')::boolean ORDER BY id")))


def _signed_in_here_online(hub, login: str = "li.sf") -> None:
    who = auth.sign_in(hub.uow(), login, STAFF_PASSWORD, station=hub.settings.station_name)
    station_known_users(hub).remember(who)


def test_offline_sign_ins_failures_and_sign_outs_survive_a_restart_and_reach_the_audit_trail(own_pg, own_hub,
                                                                                            make_station):
    _signed_in_here_online(own_hub)
    own_pg.stop()
    offline_hub, offline = connect_or_offline(own_hub.settings)
    assert offline
    moment = clock.now() + timedelta(minutes=1)
    try:
        known = station_known_users(offline_hub)
        with clock.set_to(moment):
            with pytest.raises(BusinessError) as wrong:
                known.sign_in("li.sf", "not-the-password")
            with pytest.raises(BusinessError) as unknown:
                known.sign_in("stranger", STAFF_PASSWORD)
            who = known.sign_in("li.sf", STAFF_PASSWORD)
            end_session(offline_hub, known, who, "signed_out")
        assert (wrong.value.code, unknown.value.code, who.offline) == ("SIGN_IN_FAILED", "SIGN_IN_OFFLINE_UNKNOWN", True)
        known.db.close()
    finally:
        offline_hub.close()
    # the station restarts (a new process would open the same file): the four events are still waiting
    restarted = station_known_users(own_hub)
    assert restarted.pending_events() == 4
    restarted.db.close()
    own_pg.start()
    station = make_station(own_hub.engine.url, name="hub", start=False)  # the same data folder as the station's
    station.sync_once()
    records = _offline_records(own_hub)
    assert [(r.action, r.after.get("reason")) for r in records] == [
        ("auth.sign_in_failed", "wrong_password"), ("auth.sign_in_failed", "unknown_offline"),
        ("auth.sign_in_offline", None), ("auth.sign_out", "signed_out")]
    assert {r.station for r in records} == {own_hub.settings.station_name} and all(r.ip for r in records)
    assert [r.operator for r in records] == ["li.sf", "stranger", "li.sf", "li.sf"]
    assert {r.after["at"] for r in records} == {moment.isoformat()}  # the station's business clock, not arrival
    assert len({r.after["event_id"] for r in records}) == 4 and all(r.after["host"] for r in records)
    with own_hub.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT failed_attempts FROM users WHERE login = 'li.sf'")) == 1
    assert restarted.pending_events() == 0
    station.sync_once()  # another round delivers nothing twice
    assert len(_offline_records(own_hub)) == 4


def test_a_retry_after_the_answer_was_lost_does_not_write_the_event_twice(own_pg, own_hub, make_station):
    _signed_in_here_online(own_hub)
    own_pg.stop()
    offline_hub, _ = connect_or_offline(own_hub.settings)
    try:
        known = station_known_users(offline_hub)
        with clock.set_to(clock.now() + timedelta(minutes=1)):
            known.sign_in("li.sf", STAFF_PASSWORD)
        known.db.close()
    finally:
        offline_hub.close()
    own_pg.start()
    station = make_station(own_hub.engine.url, name="hub", start=False)
    (entry,) = station.outbox.pending()
    # the server applies it, and the answer never reaches the station (the link died right after the commit)
    assert applier.apply(station.session_factory, entry.command).accepted
    assert station.outbox.pending() == [entry]
    station.sync_once()  # the station sends it again
    assert station.outbox.entry(entry.command.id).state == "accepted"
    records = _offline_records(own_hub)
    assert [(r.action, r.after["event_id"]) for r in records] == [("auth.sign_in_offline", str(entry.command.id))]


def test_wrong_offline_passwords_lock_the_person_at_the_station_and_on_the_server(own_pg, own_hub, make_station):
    _signed_in_here_online(own_hub)
    own_pg.stop()
    offline_hub, _ = connect_or_offline(own_hub.settings)
    start = clock.now() + timedelta(minutes=1)
    try:
        known = station_known_users(offline_hub)
        codes = []
        for n in range(6):
            with clock.set_to(start + timedelta(seconds=n)):
                try:
                    known.sign_in("li.sf", "not-the-password" if n < 5 else STAFF_PASSWORD)
                except BusinessError as err:
                    codes.append(err.code)
        # the fifth wrong password locks; then even the right one is refused at this station
        assert codes == ["SIGN_IN_FAILED"] * 4 + ["SIGN_IN_LOCKED", "SIGN_IN_LOCKED"]
        known.db.close()
    finally:
        offline_hub.close()
    own_pg.start()
    make_station(own_hub.engine.url, name="hub", start=False).sync_once()
    with own_hub.engine.connect() as conn:
        failed, locked_until = conn.execute(sa.text(
            "SELECT failed_attempts, locked_until FROM users WHERE login = 'li.sf'")).one()
        actions = list(conn.scalars(sa.text(
            "SELECT action FROM audit_log WHERE entity_id = 'li.sf' AND action LIKE 'auth.%' ORDER BY id")))
    assert failed == 5 and locked_until == start + timedelta(seconds=4, minutes=15)
    assert actions == ["auth.sign_in"] + ["auth.sign_in_failed"] * 5 + ["auth.locked", "auth.sign_in_failed"]
    with clock.set_to(start + timedelta(minutes=2)), pytest.raises(BusinessError) as refused:
        auth.sign_in(own_hub.uow(), "li.sf", STAFF_PASSWORD, station="另一台工作站")
    assert refused.value.code == "SIGN_IN_LOCKED"
