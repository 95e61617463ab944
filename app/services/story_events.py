"""An order's story as separate events (time, what, details) for the drill-down's timeline, in business words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.fields import Lang, code_label
from app.domain.messages import render
from app.services.trace import (OrderStory, _audit, _case, _decision, _einvoice, _erp_attempt, _invoice, push_fetch,
                               sale_events)


@dataclass(frozen=True, slots=True)
class StoryEvent:
    """One thing that happened to an order.

    ``technical`` holds what only IT needs (the platform API a write-back called): the station shows
    it in a tooltip, never in the line customer service reads.
    """

    at: datetime
    kind: str  # order / push / decision / audit / shipment / tracking / invoice / case / writeback / erp / einvoice
    title: str
    details: tuple[str, ...] = ()
    technical: str = ""
    failed: bool = False


_ORDER = {"order": 0, "push": 0, "paid": 1, "decision": 2, "audit": 3, "shipment": 4, "tracking": 5, "invoice": 6, "case": 7,
          "writeback": 8, "erp": 8, "einvoice": 9}


def _event(at: datetime, kind: str, lines: list[str], **more: Any) -> StoryEvent:
    return StoryEvent(at, kind, lines[0].strip(), tuple(line.strip() for line in lines[1:]), **more)


def writeback_event(w: dict[str, Any], story: OrderStory, lang: Lang) -> StoryEvent:
    """「发货回传 抖店：平台已接收」: the kind and who was told, the outcome; the API name goes to ``technical``."""
    if w["kind"] in ("ship", "refund"):
        party = code_label("platform", story.order["platform"], lang)
    else:  # interceptions and subscriptions go to the carrier of the parcel
        party = next((sh["carrier"] for sh in story.shipments if sh["carrier"]), "")
    colon = "：" if lang == "zh" else ": "
    title = f"{code_label('writeback_kind', w['kind'], lang)} {party}".strip() + colon + code_label(
        "writeback_outcome", w["outcome"], lang)
    if w["tracking_no"]:
        title += f"（{w['tracking_no']}）" if lang == "zh" else f" ({w['tracking_no']})"
    said = w["message"] or ""
    technical = " ".join(x for x in (w["call"] if w["call"] not in ("-", "") else "", w["code"] or "") if x)
    return StoryEvent(w["attempted_at"], "writeback", title, (said,) if said else (), technical=technical,
                      failed=w["outcome"] in ("retry", "refused", "stopped"))


def story_events(story: OrderStory, lang: Lang = "zh") -> list[StoryEvent]:
    """Every event of the story, oldest first (the same facts ``trace.render_story`` words for the CLI)."""
    o = story.order
    events = [StoryEvent(o["ordered_at"], "order", render("TRACE_ORDERED", lang))]
    if o["paid_at"]:
        events.append(StoryEvent(o["paid_at"], "paid", render("TRACE_PAID", lang)))
    events += [StoryEvent(f["at"], "push", push_fetch(f, lang), failed=not f["ok"]) for f in story.push_fetches]
    events += [StoryEvent(at, "push", line) for at, line in sale_events(story, lang)]
    events += [_event(d["decided_at"], "decision", _decision(d, story, lang)) for d in story.decisions]
    events += [_event(a["occurred_at"], "audit", _audit(a, lang)) for a in story.audits]
    for sh in story.shipments:
        if sh["shipped_at"]:
            events.append(StoryEvent(sh["shipped_at"], "shipment", render(
                "TRACE_SHIPPED", lang, carrier=sh["carrier"], tracking_no=sh["tracking_no"],
                warehouse=sh["warehouse_name"] or "-")))
        if sh["last_at"]:
            events.append(StoryEvent(sh["last_at"], "tracking", render("TRACE_TRACKING", lang, description=sh["last_event"])))
    events += [StoryEvent(i["issued_at"], "invoice", _invoice(i, lang)) for i in story.invoices]
    events += [StoryEvent(c["requested_at"], "case", _case(c, lang)) for c in story.cases]
    events += [writeback_event(w, story, lang) for w in story.writebacks]
    events += [StoryEvent(a["at"], "erp", _erp_attempt(a, lang), failed=not a["ok"]) for a in story.erp_attempts]
    events += [StoryEvent(r["updated_at"], "einvoice", _einvoice(r, lang),
                          failed=r["state"] in ("failed", "refused")) for r in story.einvoices]
    return sorted(events, key=lambda e: (e.at, _ORDER[e.kind]))

