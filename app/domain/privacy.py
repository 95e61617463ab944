"""Who may see how much of a receiver: customer service as the platform gave it, the warehouse less."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    phone: str
    address: str


def _initial(name: str | None) -> str:
    return (name[0] + "**") if name else ""


def _tail(phone: str | None) -> str:
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    return f"*******{digits[-4:]}" if len(digits) >= 4 else ("*" * len(phone or ""))


def receiver_for(role: str, name: str | None, phone: str | None, address: str | None) -> Receiver:
    """The receiver as ``role`` may see it.

    Customer service and supervisors see what the platform gave (often already masked);
    pickers need neither the full name nor the phone to pack a parcel, so they get the
    surname and the phone's last four digits; the address stays (it is on the label anyway).
    """
    if role in ("cs", "cs_lead", "supervisor", "admin"):
        return Receiver(name or "", phone or "", address or "")
    return Receiver(_initial(name), _tail(phone), address or "")
