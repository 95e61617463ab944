"""Parcels on the road for the carrier simulators: each waybill walks collect → hubs → courier → signed."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[2] / "resources" / "demo" / "company.json"
COURIERS = (("王师傅", "13812345678"), ("李强", "18600001111"), ("张建国", "13905718888"), ("陈立", "17758001234"))


@dataclass
class Leg:
    """One node a carrier will report: when, where, what, in which state, who, at which position."""

    at: datetime
    place: str
    action: str
    state: str
    courier: tuple[str, str] | None
    lon: float
    lat: float


@dataclass
class Parcel:
    tracking_no: str
    legs: list[Leg]
    sent: int = 0  # how many legs were reported so far
    intercepted: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def delivered(self) -> bool:
        return any(leg.state == "delivered" for leg in self.legs[: self.sent])


class Road:
    """The parcels a carrier simulator knows, with journeys from 杭州 to the buyer's province."""

    def __init__(self, *, seed: int = 5, clock=lambda: datetime.now(UTC)) -> None:
        self.rng, self.clock = random.Random(seed), clock
        self.lock = threading.Lock()
        self.parcels: dict[str, Parcel] = {}
        self.centres: dict[str, list[float]] = json.loads(CATALOGUE.read_text(encoding="utf-8"))["province_centres"]

    def parcel(self, tracking_no: str, *, to_province: str | None = None, carrier: str = "顺丰速运") -> Parcel:
        with self.lock:
            found = self.parcels.get(tracking_no)
            if found is None:
                found = self.parcels[tracking_no] = Parcel(tracking_no, self._journey(to_province, carrier))
            return found

    def _journey(self, to_province: str | None, carrier: str) -> list[Leg]:
        rng = self.rng
        dest = to_province if to_province in self.centres else rng.choice(sorted(self.centres))
        (olon, olat), (dlon, dlat) = self.centres["浙江省"], self.centres[dest]
        city = dest.removesuffix("省").removesuffix("市")
        courier = rng.choice(COURIERS)
        at = self.clock().replace(microsecond=0)
        steps = [
            (0, "杭州市", f"【杭州市】{carrier}已揽收", "collected", None, 0.0),
            (3, "杭州转运中心", "快件已到达【杭州转运中心】", "in_transit", None, 0.1),
            (5, "杭州转运中心", f"快件已从【杭州转运中心】发出，下一站【{city}转运中心】", "in_transit", None, 0.3),
            (14, f"{city}转运中心", f"快件已到达【{city}转运中心】", "in_transit", None, 0.9),
            (4, f"{city}营业点", f"【{city}营业点】快递员{courier[0]}正在派件，电话{courier[1]}", "delivering", courier, 1.0),
            (3, city, f"快件已签收，签收人：本人，感谢使用{carrier}", "delivered", courier, 1.0),
        ]
        legs = []
        for hours, place, action, state, who, share in steps:
            at += timedelta(hours=hours)
            legs.append(Leg(at, place, action, state, who, round(olon + (dlon - olon) * share + rng.uniform(-0.05, 0.05), 6),
                            round(olat + (dlat - olat) * share + rng.uniform(-0.05, 0.05), 6)))
        return legs

    def advance(self, tracking_no: str, steps: int = 1) -> list[Leg]:
        """The parcel moves on by ``steps`` nodes (fewer at the end of its road); the new nodes.

        A node happens when it is reported: the newest is stamped now, earlier ones of the same
        step ten minutes apart before it (and never before the parcel's previous node).
        """
        with self.lock:
            p = self.parcels[tracking_no]
            if p.intercepted:
                return []
            new = p.legs[p.sent: p.sent + steps]
            now = self.clock().replace(microsecond=0)
            for k, leg in enumerate(new):
                leg.at = now - timedelta(minutes=10 * (len(new) - 1 - k))
            p.sent += len(new)
            return new
