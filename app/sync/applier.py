"""The server side of a station command: applied at most once per UUID, recorded in the same transaction.

A :class:`RecordingUnitOfWork` writes the ``applied_commands`` row just before the service's
own commit, so the command's changes and the record of them commit together or not at all. A
UUID that is already recorded returns the recorded outcome and changes nothing, however often
a station replays it (a replay killed between the server's commit and the station hearing of it
is the everyday case, not the exception).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Order
from app.domain.errors import BusinessError
from app.domain.messages import Coded, render
from app.domain.permissions import is_service_login
from app.services.unit_of_work import BATCH_MEMO, DatabaseUnavailable, UnitOfWork, batch_memo, first_line
from app.sync.commands import Command, CommandSpec, spec_for

log = logging.getLogger(__name__)
ACCEPTED, REJECTED = "accepted", "rejected"
# Failures of the link or of the server's state at this moment (connection lost, timed out, admin
# shutdown, deadlock, serialization failure, read-only standby): retried, never set aside.
TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.InternalError, sa_exc.DisconnectionError,
             sa_exc.TimeoutError, sa_exc.PendingRollbackError, sa_exc.ResourceClosedError, psycopg.OperationalError,
             psycopg.InterfaceError, psycopg.InternalError, OSError)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server did with a command; ``result`` is JSON (order state after, or the refusal)."""

    command_id: uuid.UUID
    outcome: str
    result: dict[str, Any]
    duplicate: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED

    def reason(self, lang: str = "zh") -> str:
        """Why a rejected command was refused, in business language."""
        return reason_text(self.result, lang)


def encode_params(params: dict[str, Any]) -> dict[str, Any]:
    """A business error's facts as JSON, coded values kept coded so each reader sees their language."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Coded):
            out[key] = {"$coded": [value.codes, value.value]}
        elif isinstance(value, (list, tuple)):
            out[key] = [{"$coded": [v.codes, v.value]} if isinstance(v, Coded) else str(v) for v in value]
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "$coded" in value:
        return Coded(*value["$coded"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def reason_text(result: dict[str, Any], lang: str = "zh") -> str:
    """Render a recorded refusal (``{"code", "params"}``) in ``lang``."""
    if "code" not in result:
        return ""
    return render(result["code"], lang, **{k: _decode(v) for k, v in (result.get("params") or {}).items()})


@dataclass(eq=False)
class ReplayBatch:
    """Several commands of one station applied in one server transaction (the station's offline replay).

    What every command would look up again is looked up once for the batch: which of its UUIDs the
    server already recorded (one SELECT), its orders, locked up front (one ``SELECT … FOR UPDATE``,
    in id order), and each operator's grant (the services' memo, ``BATCH_MEMO``). Records of the
    accepted commands are written together by :meth:`record`, in one INSERT, just before the
    station commits. A refused command is not recorded here: the station rolls the batch back, sends
    the commands before it again as a batch, and then the refused one alone (:func:`apply`), where
    its refusal is recorded.
    """

    conn: sa.Connection
    memo: dict[Any, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session_factory = sessionmaker(bind=self.conn, join_transaction_mode="rollback_only",
                                            expire_on_commit=False, info={BATCH_MEMO: self.memo})

    def recorded(self, command_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Outcome]:
        """The recorded outcomes among ``command_ids`` (a batch whose answer may have been lost)."""
        rows = self.conn.execute(sa.text("SELECT command_id, outcome, result FROM applied_commands "
                                         "WHERE command_id = ANY(CAST(:ids AS uuid[]))"),
                                 {"ids": [str(i) for i in command_ids]})
        return {r.command_id: Outcome(r.command_id, r.outcome, dict(r.result), duplicate=True) for r in rows}

    def lock_orders(self, order_nos: Iterable[str | None]) -> None:
        """Lock the batch's orders in one round trip; the services take them from the memo."""
        wanted = sorted({n for n in order_nos if n})
        if not wanted:
            return
        with self.session_factory() as session:
            found = session.scalars(sa.select(Order).where(Order.order_no == sa.func.any(sa.bindparam("nos", wanted)))
                                    .order_by(Order.id).with_for_update()).all()
            session.expunge_all()  # detached, loaded: each command's session takes its order without SQL
        self.memo.update({("order", o.order_no): o for o in found})

    def apply(self, command: Command) -> Outcome:
        """:func:`apply` inside the batch: an accepted command's record waits for :meth:`record`."""
        return apply(self.session_factory, command, look_first=False, batch=self)

    def record(self) -> bool:
        """Write the accepted commands' records in one statement; False if another replay recorded
        one of these UUIDs meanwhile (a twin committed first: the caller rolls back and looks each up)."""
        if not self.rows:
            return True
        # one statement with one parameter, the same text every time (parsed and planned once per connection)
        stored = self.conn.execute(_RECORD_ALL, {"rows": json.dumps(self.rows, ensure_ascii=False, default=str)}).all()
        return len(stored) == len(self.rows)


_RECORD_ALL = sa.text(
    "INSERT INTO applied_commands (command_id, name, station, operator, outcome, result, created_at) "
    "SELECT r.command_id, r.name, r.station, r.operator, r.outcome, r.result, r.created_at "
    "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(command_id uuid, name text, station text, operator text, "
    "outcome text, result jsonb, created_at timestamptz) "
    "ON CONFLICT (command_id) DO NOTHING RETURNING command_id")


class RecordingUnitOfWork(UnitOfWork):
    """A unit of work whose first commit also records the command as accepted (same transaction).

    Later commits (a service may run a follow-up transaction, e.g. giving stock back after a
    cancellation) are ordinary: the command was already recorded with its main change. In a
    :class:`ReplayBatch` the record is handed to the batch, which writes all of them at once.
    """

    def __init__(self, session_factory: sessionmaker[Session], command: Command, spec: CommandSpec,
                 batch: ReplayBatch | None = None) -> None:
        super().__init__(session_factory)
        self._command, self._spec, self._batch = command, spec, batch
        self.recorded: dict[str, Any] | None = None

    def commit(self) -> None:
        if self.recorded is None:
            self.session.flush()
            result = _order_state(self.session, self._spec.order_no(self._command.args))
            if self._batch is None:
                _insert(self.session, self._command, ACCEPTED, result)
            else:
                self._batch.rows.append(_row(self._command, ACCEPTED, result))
            self.session.commit()
            self.recorded = result
            return
        self.session.commit()


def _order_state(session: Session, order_no: str | None) -> dict[str, Any]:
    if not order_no:
        return {}
    held = _held(session, order_no)
    if held is not None:  # this command changed the batch's locked row through the ORM: the UPDATE returned these
        return {"order_no": order_no, "status": held.status, "version": held.version, "change_seq": held.change_seq}
    row = session.execute(sa.text("SELECT status, version, change_seq FROM orders WHERE order_no = :o"),
                          {"o": order_no}).one_or_none()
    if row is None:
        return {"order_no": order_no}
    return {"order_no": order_no, "status": row.status, "version": row.version, "change_seq": row.change_seq}


def _held(session: Session, order_no: str) -> Order | None:
    """The replay batch's locked order, if this command's session holds it, flushed and fully loaded."""
    memo = batch_memo(session)
    order = memo.get(("order", order_no)) if memo is not None else None
    if order is None or order not in session:
        return None
    state = sa.inspect(order)
    return None if state.expired_attributes or state.modified else order


def _row(command: Command, outcome: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"command_id": command.id, "name": command.name, "station": command.station, "operator": command.operator,
            "outcome": outcome, "result": result, "created_at": command.created_at}


def _insert(session: Session, command: Command, outcome: str, result: dict[str, Any], *, keep_first: bool = False) -> None:
    session.execute(
        sa.text("INSERT INTO applied_commands (command_id, name, station, operator, outcome, result, created_at) "
                "VALUES (:id, :name, :station, :operator, :outcome, CAST(:result AS jsonb), :created_at)"
                + (" ON CONFLICT (command_id) DO NOTHING" if keep_first else "")),
        {"id": command.id, "name": command.name, "station": command.station, "operator": command.operator,
         "outcome": outcome, "result": json.dumps(result, ensure_ascii=False), "created_at": command.created_at},
    )


def recorded(session_factory: sessionmaker[Session], command_id: uuid.UUID) -> Outcome | None:
    """The recorded outcome of ``command_id``, if the server has seen it."""
    with UnitOfWork(session_factory) as uow:
        row = uow.session.execute(sa.text("SELECT outcome, result FROM applied_commands WHERE command_id = :id"),
                                  {"id": command_id}).one_or_none()
    return None if row is None else Outcome(command_id, row.outcome, dict(row.result), duplicate=True)


def apply(session_factory: sessionmaker[Session], command: Command, *, look_first: bool = True,
          batch: ReplayBatch | None = None) -> Outcome:
    """Apply ``command`` unless its UUID was applied before; refusals are recorded too.

    In a :class:`ReplayBatch` (``batch``) nothing is refused or set aside for good: a command that
    would be comes back rejected but unrecorded, and the station applies it alone, where it is judged
    (in a batch it may only have tripped over what an earlier command of the batch left behind).

    ``look_first=False`` skips the up-front look-up (one round trip) for a command that cannot
    have been sent before; it stays safe either way, because the record's primary key makes a
    second commit of the same UUID fail and roll back with everything it changed.

    Raises:
        DatabaseUnavailable: the database went away; whether the command landed is decided by
            the next attempt, which finds its record or applies it (never both, never twice).
    """
    seen = recorded(session_factory, command.id) if look_first else None
    if seen is not None:
        return seen
    spec = spec_for(command.name)
    if spec is None:
        return _reject(session_factory, command, {"code": "SYNC_UNKNOWN_COMMAND", "params": {"name": command.name}},
                       batch=batch)
    if is_service_login(command.operator):
        # a station claiming to be the hub would borrow the service account's grants: refused and recorded
        return _reject(session_factory, command, {"code": "SERVICE_ACCOUNT_REFUSED", "params": {}},
                       spec.order_no(command.args), batch=batch)
    uow = RecordingUnitOfWork(session_factory, command, spec, batch)
    try:
        spec.handler(uow, dict(command.args), command.actor)
    except DatabaseUnavailable:
        raise
    except BusinessError as err:
        if uow.recorded is not None:  # refused in a follow-up transaction: the command itself stands
            return Outcome(command.id, ACCEPTED, uow.recorded)
        refusal = {"code": err.code, "params": encode_params(err.params)}
        return _reject(session_factory, command, refusal, spec.order_no(command.args), batch=batch)
    except (KeyError, TypeError, ValueError) as err:
        if uow.recorded is not None:
            raise
        refusal = {"code": "SYNC_COMMAND_INVALID", "params": {"name": command.name, "detail": f"{type(err).__name__}: {err}"[:200]}}
        return _reject(session_factory, command, refusal, spec.order_no(command.args), batch=batch)
    except sa_exc.IntegrityError as err:
        if uow.recorded is None and _is_duplicate_record(err):
            # the same UUID committed concurrently (two replays racing): its outcome stands
            again = recorded(session_factory, command.id)
            if again is not None:
                return again
            raise
        return _set_aside(session_factory, command, spec, uow, err, batch)
    except TRANSIENT:
        raise  # the link or the server, not the command: the next attempt decides
    except Exception as err:  # noqa: BLE001 - anything else would fail the same way on every replay
        return _set_aside(session_factory, command, spec, uow, err, batch)
    assert uow.recorded is not None, f"{command.name} finished without committing"
    return Outcome(command.id, ACCEPTED, uow.recorded)


def _set_aside(session_factory: sessionmaker[Session], command: Command, spec: CommandSpec,
               uow: RecordingUnitOfWork, err: Exception, batch: ReplayBatch | None = None) -> Outcome:
    """A command that can never apply (poison) is refused and recorded, so the ones behind it go on.

    Retrying it would fail the same way for ever and block every later command of the station
    (the failure reported against ERPNext's offline POS, frappe/erpnext#11225); the person sees
    it among the refused changes, with the reason.
    """
    if uow.recorded is not None:  # the command itself was committed; a follow-up step failed
        return Outcome(command.id, ACCEPTED, uow.recorded)
    code = ("SYNC_COMMAND_BAD_DATA" if isinstance(err, sa_exc.DataError) else
            "SYNC_COMMAND_CLASHES" if isinstance(err, sa_exc.IntegrityError) else "SYNC_COMMAND_FAILED")
    detail = f"{type(getattr(err, 'orig', None) or err).__name__}: {first_line(err)}".replace("\x00", "")[:200]
    if batch is None:
        log.error("command %s (%s) set aside: %s", command.id, command.name, detail)
    refusal = {"code": code, "params": {"name": {"$coded": ["sync_command", command.name]}, "detail": detail}}
    return _reject(session_factory, command, refusal, spec.order_no(command.args), batch=batch)


def _is_duplicate_record(err: sa_exc.IntegrityError) -> bool:
    return "applied_commands" in str(err.orig)


def _reject(session_factory: sessionmaker[Session], command: Command, refusal: dict[str, Any],
            order_no: str | None = None, *, batch: ReplayBatch | None = None) -> Outcome:
    """Record a refusal, with what the order looks like now (what happened instead).

    In a replay batch the refusal is only reported (the batch rolls back; the command goes alone next).
    """
    if batch is not None:
        return Outcome(command.id, REJECTED, refusal)
    with UnitOfWork(session_factory) as uow:
        refusal = refusal | {"now": _order_state(uow.session, order_no)}
        _insert(uow.session, command, REJECTED, refusal, keep_first=True)  # a racing twin's outcome stands
        uow.commit()
    final = recorded(session_factory, command.id)
    assert final is not None
    return Outcome(command.id, final.outcome, final.result)


def refusal_text(name: str, order_no: str | None, result: dict[str, Any], lang: str = "zh") -> str:
    """What the person who made a refused command is told: what they tried, why not, what the order is now."""
    from app.domain.fields import code_label

    text = render("SYNC_COMMAND_REJECTED", lang, action=code_label("sync_command", name, lang),
                  order_no=order_no or "-", reason=reason_text(result, lang))
    now_ = result.get("now") or {}
    if "status" in now_:
        text += ("。" if lang == "zh" else ". ") + render(
            "SYNC_ORDER_NOW", lang, status=Coded("order_status", now_["status"]), version=now_["version"])
    return text
