"""Who may do what: the actions a role can be granted, and the grants a new company starts with.

The grants themselves are data (table ``role_permissions``, seeded from :data:`DEFAULT_GRANTS` by the
migration and edited by an administrator); this module only names the actions and decides, given a
set of grants, whether a role may act. Labels people see come from the field dictionary
(``permission_action`` and ``role`` code lists).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

ROLES: tuple[str, ...] = ("cs", "cs_lead", "picker", "wh_lead", "supervisor", "admin", "service")
"""Every role; ``service`` is the hub's named service account (``system:*`` actors), never a person."""

PERSON_ROLES: tuple[str, ...] = ROLES[:-1]
SERVICE_ROLE = "service"
SERVICE_LOGIN = "system:hub"

ACTIONS: tuple[str, ...] = (
    "order.cancel",
    "order.change_address",
    "order.add_warehouse_note",
    "order.change_status",
    "order.override_status",
    "order.hold",
    "order.release_hold",
    "order.route",
    "after_sales.open",
    "after_sales.step",
    "after_sales.respond",
    "after_sales.flow_save",
    "wave.create",
    "wave.print",
    "wave.reprint",
    "pick.scan",
    "notice.acknowledge",
    "rule.save",
    "rule.enable",
    "red_letter.move",
    "quarantine.retry",
    "outbox.retry",
    "outbox.acknowledge",
    "users.manage",
    "permissions.edit",
    # the admin station and the ERP bridge (granted by migration 0014, not 0009)
    "shops.manage",
    "master_data.import",
    "field_defs.manage",
    "printers.manage",
    "erp.manage",
    # reading the supervisor's health data and sending the weekly report out (migration 0024)
    "health.view",
    "health.export",
    # moving old platform payloads to archive files and bringing one back (migration 0035)
    "payloads.archive",
)
"""Every action a service checks; a service asking about an action not listed here is a programming error."""

_CS = {"order.cancel", "order.change_address", "order.add_warehouse_note", "order.change_status",
       "order.hold", "order.release_hold", "after_sales.open", "after_sales.step", "after_sales.respond",
       "outbox.acknowledge", "red_letter.move"}
_CS_LEAD = _CS | {"order.override_status", "order.route", "outbox.retry", "health.view"}
_PICKER = {"pick.scan", "notice.acknowledge"}
_WH_LEAD = _PICKER | {"wave.create", "wave.print", "wave.reprint", "order.add_warehouse_note", "order.hold",
                      "order.release_hold", "outbox.acknowledge", "health.view"}
# health.view: the health board compares shops, warehouses and agents; the team leads see it to steer their own
# team (cs_lead: first-response times and agents; wh_lead: late shipments per warehouse). health.export: only the
# supervisor and admin send the week's report out of the building as a file.
_SUPERVISOR = _CS_LEAD | _WH_LEAD | {"rule.save", "rule.enable", "quarantine.retry", "health.view", "health.export"}
_ADMIN_STATION = {"shops.manage", "master_data.import", "field_defs.manage", "printers.manage", "erp.manage"}
"""Setting the company up: shops and their secrets, master data, where order data goes (ERP). Admins only:
a supervisor runs the day (retries quarantined ERP messages with ``quarantine.retry``) but does not decide
where orders are sent or with which secret. The hub's service account keeps ``erp.manage`` only: ``orderhub hub
--simulate`` points the ERP and 诺诺 connections at its own loopback simulators as ``system:demo``."""
_SERVICE = (set(ACTIONS) - {"users.manage", "permissions.edit", "after_sales.flow_save", "rule.save", "rule.enable"}
            - (_ADMIN_STATION - {"erp.manage"}) - {"health.view", "health.export"})
"""The health board and the weekly report are read by people; a scheduled report signs in as a person who may export."""

DEFAULT_GRANTS: Mapping[str, frozenset[str]] = {
    "cs": frozenset(_CS),
    "cs_lead": frozenset(_CS_LEAD),
    "picker": frozenset(_PICKER),
    "wh_lead": frozenset(_WH_LEAD),
    "supervisor": frozenset(_SUPERVISOR),
    "admin": frozenset(ACTIONS),
    "service": frozenset(_SERVICE),
}
"""What a new company starts with; the migration writes these rows, an administrator edits them."""

LOCKED_GRANTS: frozenset[tuple[str, str]] = frozenset({("admin", "users.manage"), ("admin", "permissions.edit")})
"""Grants an administrator cannot take away, so a company can never lock itself out of its own set-up."""


def is_service_login(login: str) -> bool:
    """``system:hub``, ``system:red-letter`` …: processes, all acting as the hub's service account."""
    return login.startswith("system:")


def allowed(grants: Collection[tuple[str, str]], role: str | None, action: str) -> bool:
    """Whether ``role`` holds ``action`` in ``grants`` (pairs of role and action); no role, no grant."""
    if action not in ACTIONS:
        raise ValueError(f"unknown permission action {action!r}")
    return role is not None and (role, action) in grants


def default_pairs() -> list[tuple[str, str]]:
    """The default grants as (role, action) rows in a stable order (for the migration's seed)."""
    return [(role, action) for role in ROLES for action in ACTIONS if action in DEFAULT_GRANTS[role]]
