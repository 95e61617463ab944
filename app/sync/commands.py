"""Station commands: a name, JSON arguments and a UUID, applied by the same service function online or offline.

Features register their own commands (after-sales steps, pick scans) with :func:`register`;
the outbox stores only the name and the arguments, so a command queued today replays through
whatever function is registered under its name when the connection comes back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.actor import Actor
from app.domain.clock import now
from app.services import after_sales, auth, orders, parcels
from app.services.unit_of_work import UnitOfWork

# handler(uow, args, actor) -> whatever the service returns (an OrderView or a plain dict)
Handler = Callable[[UnitOfWork, dict[str, Any], Actor], Any]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How one command name is applied, and which order it touches (for chaining and for the UI)."""

    name: str
    handler: Handler
    order_key: str | None = "order_no"

    def order_no(self, args: dict[str, Any]) -> str | None:
        return None if self.order_key is None else args.get(self.order_key)


REGISTRY: dict[str, CommandSpec] = {}


def register(name: str, handler: Handler, *, order_key: str | None = "order_no") -> CommandSpec:
    """Make ``name`` a station command applied by ``handler``; re-registering a name replaces it.

    Args:
        name: stable command name stored in outboxes (``order.cancel``) — never rename one in use.
        handler: ``handler(uow, args, actor)``; it must do its work through ``uow`` (one transaction)
            and raise a BusinessError to refuse.
        order_key: the argument naming the order the command changes, if any.
    """
    spec = CommandSpec(name, handler, order_key)
    REGISTRY[name] = spec
    return spec


def spec_for(name: str) -> CommandSpec | None:
    return REGISTRY.get(name)


@dataclass(frozen=True, slots=True)
class Command:
    """One write from a station; ``id`` makes it idempotent end to end."""

    name: str
    args: dict[str, Any]
    operator: str
    station: str
    station_ip: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=now)

    @property
    def actor(self) -> Actor:
        return Actor(self.operator, self.station, self.station_ip)

    @classmethod
    def made_by(cls, actor: Actor, name: str, args: dict[str, Any]) -> Command:
        return cls(name, dict(args), actor.operator, actor.station, actor.station_ip)


# --- the order commands every station has ----------------------------------------------------------
def _cancel(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    return orders.cancel(uow, a["order_no"], expected_version=int(a["expected_version"]), actor=actor,
                         basis=a.get("basis"))


def _change_address(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    new = orders.AddressChange(a["receiver_name"], a["receiver_phone"], a["receiver_address"])
    return orders.change_address(uow, a["order_no"], new, expected_version=int(a["expected_version"]), actor=actor,
                                 basis=a.get("basis"))


def _add_warehouse_note(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    return orders.add_warehouse_note(uow, a["order_no"], a["text"], expected_version=int(a["expected_version"]),
                                     actor=actor)


def _change_status(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    return orders.change_status(uow, a["order_no"], a["target"], expected_version=int(a["expected_version"]),
                                actor=actor, basis=a.get("basis"))


register("order.cancel", _cancel)
register("order.change_address", _change_address)
register("order.add_warehouse_note", _add_warehouse_note)
register("order.change_status", _change_status)


# --- after-sales (issue #5): no order chaining — a step's expected version is the case's, not the order's.
def _after_sales_open(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    return after_sales.open_case(uow, a["order_no"], a["kind"], a["lines"], actor=actor, reason=a["reason"],
                                 basis=a.get("basis"), contact_phone=a.get("contact_phone"))


def _after_sales_step(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    return after_sales.step(uow, a["case_no"], a["step"], expected_version=int(a["expected_version"]), actor=actor,
                            basis=a.get("basis"), params=a.get("params") or {})


register("after_sales.open", _after_sales_open, order_key=None)
register("after_sales.step", _after_sales_step, order_key=None)


# --- sign-ins made while the database was away (issue #14): the command's UUID is the event's id.
def _auth_offline_event(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    policy = auth.Policy(max_failures=int(a.get("max_failures", 5)), lock_minutes=int(a.get("lock_minutes", 15)))
    return auth.record_offline_event(uow, a, actor, policy=policy)


register("auth.offline_event", _auth_offline_event, order_key=None)


# --- split parcels (issue #15): part of an order leaves with its own tracking number
def _ship_parcel(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    return parcels.ship_parcel(uow, a["order_no"], a["tracking_no"], list(a["lines"]),
                               expected_version=int(a["expected_version"]), actor=actor)


register("pick.ship_parcel", _ship_parcel)


# --- what a station reports about itself (issue #16): no order, no grant — a fact about the station's printer
def _print_failure(uow: UnitOfWork, a: dict[str, Any], actor: Actor) -> Any:
    from app.services import stations

    return stations.record_print_failure(uow, a, actor)


register("station.print_failure", _print_failure, order_key=None)
