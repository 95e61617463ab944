"""Who is acting, from where: every command carries it, every audit record stores it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The person (or system process) behind a command.

    Attributes:
        operator: login of the person, or ``system:<process>`` for the hub.
        station: the station's name.
        station_ip: the station's IP address as the station sees itself.
    """

    operator: str
    station: str
    station_ip: str | None = None

    @property
    def is_person(self) -> bool:
        return not self.operator.startswith("system:")


SYSTEM = Actor("system:hub", "hub")
