"""The drill-down's three timelines as items: parcel nodes (newest first), warehouse scans by person, the order's story."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.fields import Lang, code_label
from app.services.drill_down import OrderDetail
from app.services.story_events import StoryEvent
from app.ui.timeline import TimelineItem, mark_delays


def tracking_items(d: OrderDetail, lang: Lang, delay_hours: float) -> list[TimelineItem]:
    """Newest node first and emphasised (where the parcel is now); long silences between nodes marked."""
    zh = lang == "zh"
    items = [TimelineItem(n.occurred_at, n.description, place=n.location,
                          detail=((f"快递员 {n.courier_name} {n.courier_phone or ''}" if zh else
                                   f"courier {n.courier_name} {n.courier_phone or ''}").strip() if n.courier_name else ""),
                          current=i == 0)
             for i, n in enumerate(d.tracking)]
    return mark_delays(items, delay_hours)


def scan_items(d: OrderDetail, lang: Lang) -> list[TimelineItem]:
    """Who scanned what, newest first, each with the person's initials in their own colour."""
    zh = lang == "zh"
    return [TimelineItem(s.scanned_at, f"{s.operator}　{code_label('scan_action', s.action, lang)}" if zh else
                         f"{s.operator}  {code_label('scan_action', s.action, lang)}",
                         place=s.station, detail=s.barcode + ((f"　箱号 {s.box_no}" if zh else f"  box {s.box_no}")
                                                              if s.box_no else ""),
                         person=s.operator) for s in d.scans]


def story_items(events: Sequence[StoryEvent], lang: Lang) -> list[TimelineItem]:
    """The story newest first like every timeline (the latest event, emphasised, is what people ask about);
    what only IT needs (API names) goes in the tooltip."""
    api = "平台接口：" if lang == "zh" else "Platform API: "
    return [TimelineItem(e.at, e.title, detail="\n".join(e.details),
                         tooltip="\n".join((e.title, *e.details, api + e.technical)) if e.technical else "",
                         current=i == 0, failed=e.failed) for i, e in enumerate(reversed(events))]
