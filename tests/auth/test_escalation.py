"""Privilege escalation: a picker's command through the station outbox or the command line, refused and recorded."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from app.cli import main
from app.domain.actor import Actor
from app.domain.permissions import DEFAULT_GRANTS, ROLES
from app.sync import applier
from app.sync.commands import REGISTRY, Command
from tests.auth.conftest import ROLE_LOGIN
from tests.conftest import STAFF_PASSWORD
from tests.support.factories import make_order

PICKER = Actor("li.sf", "仓库工作台-01", "10.20.3.7")

# the station commands with arguments that reach the service's permission check
COMMAND_ARGS = {
    "order.cancel": lambda o, v: {"order_no": o, "expected_version": v, "basis": "旺旺聊天：买家要求取消"},
    "order.change_address": lambda o, v: {"order_no": o, "expected_version": v, "receiver_name": "王五",
                                          "receiver_phone": "13900139000", "basis": "工单 9",
                                          "receiver_address": "浙江省杭州市余杭区文一西路969号"},
    "order.add_warehouse_note": lambda o, v: {"order_no": o, "expected_version": v, "text": "请勿放干燥剂"},
    "order.change_status": lambda o, v: {"order_no": o, "expected_version": v, "target": "allocating"},
    "after_sales.open": lambda o, v: {"order_no": o, "kind": "refund_only", "lines": [{"line_no": 1, "qty": 1}],
                                      "reason": "不想要了"},
    "after_sales.step": lambda o, v: {"case_no": "AS-NONE", "step": "refund", "expected_version": 1},
    "pick.ship_parcel": lambda o, v: {"order_no": o, "expected_version": v, "tracking_no": "SF1234567890123",
                                      "lines": [{"line_no": 1, "qty": 1}]},
}
# station commands checked as another action's work: a parcel of an order is the ship scan's work
ACTION_OF = {"pick.ship_parcel": "pick.scan"}


def _state(hub, order_no):
    with hub.uow() as uow:
        return uow.session.execute(sa.text("SELECT status, version FROM orders WHERE order_no = :o"), {"o": order_no}).one()


# commands that act for nobody's grants: an offline sign-in record is what any person leaves by signing in
# and a printer failure is a fact a station reports about itself, not anybody's act on an order
NO_GRANT = {"auth.offline_event", "station.print_failure"}


def test_every_station_command_is_covered_here():
    import app.ui.station  # noqa: F401  (registers every command a station sends)

    assert set(COMMAND_ARGS) | NO_GRANT == set(REGISTRY)


@pytest.mark.parametrize("role", ROLES)
def test_an_offline_sign_in_record_is_taken_from_every_person_and_refused_from_the_service_account(hub, role):
    login = ROLE_LOGIN[role]
    args = {"kind": "sign_in", "login": login, "at": "2026-01-05T09:00:00+00:00", "event_id": "e-1", "host": "pc-1"}
    outcome = applier.apply(hub.session_factory, Command("auth.offline_event", args, login, "工作站-权限", "10.20.9.9"))
    with hub.uow() as uow:
        recorded = uow.session.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in_offline' "
                                              "AND operator = :o"), {"o": login})
    if role == "service":
        assert not outcome.accepted and outcome.result["code"] == "SERVICE_ACCOUNT_REFUSED" and recorded == 0
    else:
        assert outcome.accepted and recorded == 1


@pytest.mark.parametrize("role", ROLES)
def test_a_printer_failure_report_is_taken_from_every_person_and_refused_from_the_service_account(hub, role):
    login = ROLE_LOGIN[role]
    args = {"printer": "仓库打印机-1", "job_id": f"job-{role}", "reason": "PRINTER_PAPER_OUT",
            "failed_at": 1_800_000_000.0, "attempt": 1}
    outcome = applier.apply(hub.session_factory, Command("station.print_failure", args, login, "工作站-权限", "10.20.9.9"))
    if role == "service":
        assert not outcome.accepted and outcome.result["code"] == "SERVICE_ACCOUNT_REFUSED"
    else:
        assert outcome.accepted, outcome.result


@pytest.mark.parametrize("role", [r for r in ROLES if r != "service"])
@pytest.mark.parametrize("name", sorted(COMMAND_ARGS))
def test_a_station_command_is_held_to_the_senders_role_and_a_refusal_is_recorded(hub, name, role):
    order_no, version = make_order(hub, "paid")
    command = Command(name, COMMAND_ARGS[name](order_no, version), ROLE_LOGIN[role], "工作站-权限", "10.20.9.9")
    outcome = applier.apply(hub.session_factory, command)
    allowed = ACTION_OF.get(name, name) in DEFAULT_GRANTS[role]  # checked as the action of its own name, mostly
    refused_for_role = not outcome.accepted and outcome.result.get("code") == "NOT_PERMITTED"
    assert refused_for_role is not allowed, (name, role, outcome.result)
    if refused_for_role:
        assert _state(hub, order_no) == ("paid", version)  # nothing changed
        with hub.uow() as uow:
            row = uow.session.execute(sa.text("SELECT outcome, operator FROM applied_commands WHERE command_id = :i"),
                                      {"i": command.id}).one()
        assert row == ("rejected", ROLE_LOGIN[role])
        assert "没有" in outcome.reason("zh") and "权限" in outcome.reason("zh")


def test_a_pickers_cancel_sent_through_the_outbox_is_refused_shown_in_words_and_changes_nothing(hub):
    order_no, version = make_order(hub, "paid")
    command = Command.made_by(PICKER, "order.cancel", {"order_no": order_no, "expected_version": version,
                                                       "basis": "冒充客服取消"})
    outcome = applier.apply(hub.session_factory, command)
    assert not outcome.accepted
    text = applier.refusal_text("order.cancel", order_no, outcome.result, "zh")
    assert "「拣货员」没有「取消订单」的权限" in text and "已支付" in text
    assert _state(hub, order_no) == ("paid", version)
    again = applier.apply(hub.session_factory, command)  # a replay gets the same recorded answer
    assert again.duplicate and not again.accepted


def test_a_station_that_claims_to_be_the_hub_is_refused(hub):
    order_no, version = make_order(hub, "paid")
    forged = Command("order.cancel", {"order_no": order_no, "expected_version": version, "basis": "x"},
                     "system:hub", "仓库工作台-01", "10.20.3.7")
    outcome = applier.apply(hub.session_factory, forged)
    assert not outcome.accepted and outcome.result["code"] == "SERVICE_ACCOUNT_REFUSED"
    assert _state(hub, order_no) == ("paid", version)


@pytest.fixture
def cli(hub, tmp_path, monkeypatch, capsys):
    """`orderhub …` in this process against the test database, signed in by ORDERHUB_USER/PASSWORD."""
    monkeypatch.setenv("ORDERHUB_DATABASE_URL", hub.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ORDERHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORDERHUB_CONFIG", str(tmp_path / "none.toml"))

    def run(login: str | None, *argv: str) -> tuple[int, str, str]:
        if login is None:
            monkeypatch.delenv("ORDERHUB_USER", raising=False)
            monkeypatch.delenv("ORDERHUB_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("ORDERHUB_USER", login)
            monkeypatch.setenv("ORDERHUB_PASSWORD", STAFF_PASSWORD)
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


CLI_ACTIONS = {
    "rule.enable": ("rules", "enable", "R-NO-SUCH", "--basis", "测试"),
    "wave.create": ("wave", "create", "--warehouse", "NO-WH"),
    "notice.acknowledge": ("notices", "ack", "OH-NONE"),
    "outbox.retry": ("outbox", "retry", "987654"),
    "red_letter.move": ("red-letter", "confirm", "RL-NONE", "--basis", "购方确认"),
    "after_sales.respond": ("case", "respond", "AS-NONE"),
    "order.route": ("route", "OH-NONE"),
}


@pytest.mark.parametrize("role", [r for r in ROLES if r != "service"])
@pytest.mark.parametrize("action", sorted(CLI_ACTIONS))
def test_the_command_line_holds_the_signed_in_person_to_their_role(cli, action, role):
    code, out, err = cli(ROLE_LOGIN[role], *CLI_ACTIONS[action])
    refused = code == 2 and "的权限" in err
    assert refused is (action not in DEFAULT_GRANTS[role]), (action, role, code, err)


def test_the_command_line_refuses_to_act_for_nobody_or_as_someone_else(cli):
    code, _, err = cli(None, "rules", "enable", "R-1", "--basis", "x")
    assert code == 2 and "请先登录" in err
    code, _, err = cli("li.sf", "rules", "enable", "R-1", "--basis", "x", "--operator", "liu.gong")
    assert code == 2 and "已登录的是「li.sf」，不能以「liu.gong」的身份操作" in err


def test_a_picker_cannot_climb_through_the_command_line_and_the_attempt_is_in_the_audit_trail(cli, hub):
    code, _, err = cli("li.sf", "rules", "disable", "R-JZH-HZ", "--basis", "想改规则")
    assert code == 2 and "「拣货员」没有「启用/停用分仓规则」的权限" in err
    with hub.uow() as uow:
        actions = [r[0] for r in uow.session.execute(sa.text(
            "SELECT action FROM audit_log WHERE operator = 'li.sf' ORDER BY id"))]
    assert actions == ["auth.sign_in"]  # signed in (recorded), and nothing else happened


def test_login_then_act_then_logout_on_the_command_line(cli, hub, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(STAFF_PASSWORD + "\n"))
    code, out, _ = cli(None, "login", "chen.bz", "--password-stdin")
    assert code == 0 and "陈班长（仓管班长）" in out
    assert oct(os.stat(tmp_path / "cli_session.json").st_mode & 0o777) == "0o600"
    code, out, _ = cli(None, "whoami")
    assert out.strip() == "chen.bz"
    code, _, _ = cli(None, "logout")
    code, _, err = cli(None, "whoami")
    assert code == 2 and "请先登录" in err


def test_the_hub_runs_commands_as_its_service_account_with_a_key_from_the_credential_store(cli, hub, tmp_path):
    code, _, err = cli(None, "--service-account", "hub", "route", "OH-NONE")
    assert code == 2 and "用户名或密码不正确" in err  # no key issued yet
    code, _, err = cli("li.sf", "service-key")
    assert code == 2 and "「拣货员」没有「管理用户」的权限" in err
    code, _, err = cli("liu.gong", "service-key")
    assert code == 0, err
    code, _, err = cli(None, "--service-account", "hub", "route", "OH-NONE")
    assert code == 0, err
    code, _, err = cli(None, "--service-account", "hub", "rules", "enable", "R-NONE", "--basis", "x")
    assert code == 2 and "「系统服务账号」没有「启用/停用分仓规则」的权限" in err
    with hub.uow() as uow:
        stored = uow.session.scalar(sa.text("SELECT password_hash FROM users WHERE login = 'system:hub'"))
    assert stored.startswith("$argon2id$")
