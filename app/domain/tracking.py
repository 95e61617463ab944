"""A parcel's journey as carriers report it: nodes and pushes, in the hub's terms (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a parcel's journey as the carrier reported it.

    ``state``: ``collected`` / ``in_transit`` / ``delivering`` / ``delivered`` / ``exception``.
    """

    at: datetime
    place: str
    action: str
    state: str
    courier_name: str | None = None
    courier_phone: str | None = None
    lon: Decimal | None = None
    lat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TrackingPush:
    """Nodes of one waybill from one push (carriers batch several waybills in a push)."""

    carrier: str  # kuaidi100 | sf
    tracking_no: str
    nodes: tuple[Node, ...]
