"""The demo company's week: a high nominal on-time rate, a clearly lower real one, the rescues findable."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from app.demo.seed import seed_demo
from app.domain import clock
from app.domain.health import RESCUE_ACTIONS, Rating
from app.services import health, health_drill, trace
from app.services.health import Span
from tests.auth.conftest import actor_of

SUP = actor_of("supervisor")  # health is read by someone holding health.view


@pytest.fixture
def demo(hub):
    # The demo's week ends at the latest China noon before now, not at "now" itself: a week ending just
    # after China midnight has an almost empty last day, so the day count would hang on the hour of the run.
    noon = clock.local(clock.now()).replace(hour=12, minute=0, second=0, microsecond=0)
    anchor = (noon if noon <= clock.now() else noon - timedelta(days=1)).astimezone(UTC)
    seed_demo(hub, seed=11, n_orders=1500, anchor=anchor)
    return anchor


def test_the_demo_week_looks_fine_nominally_but_not_really(hub, demo):
    span = Span.of(demo - timedelta(days=8), demo + timedelta(hours=1))
    s = health.summary(hub.uow(), SUP, span)
    real = s.headline("real_on_time")
    assert s.counts.shipped > 500
    assert real.detail["nominal"] >= 0.95  # what the old report said
    assert real.value <= 0.72  # what actually happened
    assert real.detail["nominal"] - real.value >= 0.25
    assert real.rating == Rating.RED
    days = health.timeline(hub.uow(), SUP, span, health.Grain.DAY)
    assert len([d for d in days if d.counts.orders]) >= 7


def test_the_rescued_orders_are_findable_with_who_rescued_them_and_why(hub, demo):
    span = Span.of(demo - timedelta(days=8), demo + timedelta(hours=1))
    rescued = health_drill.list_selected(hub.uow(), SUP, health_drill.Selection(span, "rescued"), limit=5)
    assert len(rescued) == 5
    for row in rescued:
        story = trace.order_story(hub.uow(), row.order_no)
        rescues = [a for a in story.audits if a["action"] in RESCUE_ACTIONS]
        assert rescues and all(a["operator"] and a["basis"] for a in rescues)


def test_a_few_shipped_orders_disagree_with_the_platform_and_are_listed(hub, demo):
    span = Span.of(demo - timedelta(days=8), demo + timedelta(hours=1))
    mismatches = health.mismatches(hub.uow(), SUP, span)
    assert mismatches and all(m.ours in ("shipped", "completed", "after_sales") and m.theirs == "paid"
                              for m in mismatches)
    share = health.summary(hub.uow(), SUP, span).headline("consistency").value
    assert 0 < share < 0.02


def test_the_supervisor_tab_on_the_demo_week(qtbot, hub, demo, qapp):
    import os
    from pathlib import Path

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.ui import fonts
    from app.ui.supervisor.workspace import SupervisorWorkspace

    fonts.install(qapp)
    ws = SupervisorWorkspace(hub.uow, "zh", actor=SUP, now=lambda: demo)
    qtbot.addWidget(ws)
    ws.resize(1500, 950)
    ws.show()
    qtbot.waitExposed(ws)
    assert ws.cards["real_on_time"].rating == Rating.RED
    ws.lower.setCurrentIndex(1)  # 运营状况
    assert "小树苗" in ws.operations_view.toPlainText()
    shots = Path(os.environ.get("ORDERHUB_SCREENSHOTS", "/tmp/orderhub-screens"))
    shots.mkdir(parents=True, exist_ok=True)
    ws.grab().save(str(shots / "supervisor_demo_operations.png"))
    ws.lower.setCurrentIndex(0)
    ws.grab().save(str(shots / "supervisor_demo.png"))
