"""Every health read and the report export, tried by every role through the real services and the real 主管 tab."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.domain import clock
from app.domain.actor import Actor
from app.domain.errors import BusinessError
from app.domain.health import Grain
from app.domain.permissions import DEFAULT_GRANTS, PERSON_ROLES, ROLES
from app.services import health, health_drill, health_ops, permissions, stations
from app.services.health import Span
from tests.auth.conftest import actor_of

SHOTS = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
Call = Callable[[Any, Actor, Path], Any]


def _span() -> Span:
    return Span.last_days(clock.now(), 7)


def _write_report(hub: Any, actor: Actor, folder: Path) -> Any:
    from app.ui.supervisor.report import write_report

    return write_report(hub.uow, actor, folder / "周报.xlsx", now=clock.now(), days=7)


CALLS: dict[str, tuple[str, Call]] = {
    "dashboard": ("health.view", lambda h, a, f: health.dashboard(h.uow(), a, _span(), Grain.DAY)),
    "summary": ("health.view", lambda h, a, f: health.summary(h.uow(), a, _span())),
    "timeline": ("health.view", lambda h, a, f: health.timeline(h.uow(), a, _span(), Grain.DAY)),
    "bars": ("health.view", lambda h, a, f: health.bars(h.uow(), a, _span(), "agent")),
    "mismatches": ("health.view", lambda h, a, f: health.mismatches(h.uow(), a, _span())),
    "traceability": ("health.view", lambda h, a, f: health.traceability(h.uow(), a, _span())),
    "drill_list": ("health.view", lambda h, a, f: health_drill.list_selected(
        h.uow(), a, health_drill.Selection(_span(), "late"))),
    "drill_count": ("health.view", lambda h, a, f: health_drill.count_selected(
        h.uow(), a, health_drill.Selection(_span(), "rescued"))),
    "operations": ("health.view", lambda h, a, f: health_ops.operations(h.uow(), a, _span(), clock.now())),
    "stations": ("health.view", lambda h, a, f: stations.stations(h.uow(), a, clock.now())),
    "print_failure_groups": ("health.view", lambda h, a, f: stations.print_failure_groups(h.uow(), a, _span())),
    "print_failures": ("health.view", lambda h, a, f: stations.print_failures(h.uow(), a, _span())),
    "export_check": ("health.export", lambda h, a, f: health.require_export(h.uow(), a)),
    "write_report": ("health.export", _write_report),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_each_health_read_asks_for_its_action_and_a_refused_export_writes_no_file(shared_hub, tmp_path, call, role):
    action, attempt = CALLS[call]
    try:
        attempt(shared_hub, actor_of(role), tmp_path)
        outcome = "done"
    except BusinessError as err:
        outcome = err.code
    if action in DEFAULT_GRANTS[role]:
        assert outcome == "done", (call, role, outcome)
    else:
        assert outcome == "NOT_PERMITTED", (call, role, outcome)
        assert list(tmp_path.iterdir()) == []


def test_the_supervisor_and_admin_view_and_export_the_leads_view_only_and_the_floor_neither():
    view = {r for r in PERSON_ROLES if "health.view" in DEFAULT_GRANTS[r]}
    export = {r for r in PERSON_ROLES if "health.export" in DEFAULT_GRANTS[r]}
    assert view == {"cs_lead", "wh_lead", "supervisor", "admin"}
    assert export == {"supervisor", "admin"}
    assert not {"health.view", "health.export"} & DEFAULT_GRANTS["service"]


def test_someone_who_is_not_a_user_reads_no_health_number(shared_hub):
    with pytest.raises(BusinessError) as caught:
        health.summary(shared_hub.uow(), Actor("mallory", "外部电脑"), _span())
    assert caught.value.code == "NOT_PERMITTED_UNKNOWN"


def test_the_health_tab_shows_a_business_language_refusal_to_a_role_without_the_grant(shared_hub, qtbot, qapp):
    from app.ui import fonts
    from app.ui.supervisor.workspace import SupervisorWorkspace

    fonts.install(qapp)

    ws = SupervisorWorkspace(shared_hub.uow, "zh", actor=actor_of("cs"))
    qtbot.addWidget(ws)
    ws.resize(1280, 720)
    ws.show()
    assert ws.refusal.isVisible() and not ws.body.isVisible()
    assert ws.refusal.text() == "「客服」没有「查看订单健康度」的权限，未做任何更改。如需此权限请联系管理员"
    assert ws.summary is None  # nothing of the board was read
    SHOTS.mkdir(parents=True, exist_ok=True)
    ws.grab().save(str(SHOTS / "health-refused-cs.png"))
    en = SupervisorWorkspace(shared_hub.uow, "en", actor=actor_of("picker"))
    qtbot.addWidget(en)
    assert en.refusal.text().startswith("A Picker may not “View order health”")


def test_a_lead_given_the_grant_sees_the_board_and_loses_it_when_the_grant_is_taken_away(hub, qtbot):
    from app.ui.supervisor.workspace import SupervisorWorkspace

    ws = SupervisorWorkspace(hub.uow, "zh", actor=actor_of("wh_lead"))
    qtbot.addWidget(ws)
    ws.show()
    assert ws.body.isVisible() and not ws.refusal.isVisible() and ws.summary is not None
    permissions.set_grant(hub.uow(), "wh_lead", "health.view", False, actor_of("admin"))
    ws.refresh()
    assert ws.refusal.isVisible() and "「仓管班长」没有「查看订单健康度」的权限" in ws.refusal.text()


def test_the_two_health_actions_are_labelled_and_ticked_in_the_users_and_permissions_screen(shared_hub, qtbot, qapp):
    from PySide6.QtCore import Qt

    from app.ui import fonts
    from app.ui.users_admin import UsersAdmin

    fonts.install(qapp)  # the bundled font: the picture never depends on the machine's fonts

    admin = UsersAdmin(shared_hub.uow, actor_of("admin"), lang="zh")
    qtbot.addWidget(admin)
    admin.resize(1400, 900)
    actions = [admin.grants.verticalHeaderItem(n).text() for n in range(admin.grants.rowCount())]
    roles = [admin.grants.horizontalHeaderItem(c).text() for c in range(admin.grants.columnCount())]
    ticked = {(a, r) for a in ("查看订单健康度", "导出健康度周报") for r in roles
              if admin.grants.item(actions.index(a), roles.index(r)).checkState() == Qt.CheckState.Checked}
    assert ticked == {("查看订单健康度", r) for r in ("客服组长", "仓管班长", "主管", "管理员")} | \
        {("导出健康度周报", r) for r in ("主管", "管理员")}
    admin.show()
    admin.grants.scrollToBottom()
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert admin.grab().save(str(SHOTS / "health-permissions-admin.png"))
