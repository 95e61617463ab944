"""Where slip bytes go: USB, network (raw port 9100), serial or a file, and what the printer says back.

Each backend wraps python-escpos's transport for it (``Usb`` over pyusb, ``Network``, ``Serial``
over pyserial, ``File``): opening, writing and reading are right there. On top, this module asks
the printer for its real-time status with DLE EOT (Epson ESC/POS "transmit real-time status":
n=1 printer, n=2 offline cause, n=4 roll paper sensor), which python-escpos only half covers
(``is_online``/``paper_status`` ignore the cover and the offline cause).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from escpos import printer as escpos_printer
from escpos.constants import DLE, EOT
from escpos.exceptions import Error as EscposError

# Real-time status bits (every answer byte has bit 1 and bit 4 set, bits 0 and 7 clear).
OFFLINE_BIT = 0x08  # DLE EOT 1
COVER_OPEN_BIT = 0x04  # DLE EOT 2
PAPER_END_STOP_BIT = 0x20  # DLE EOT 2: printing stopped because the paper ran out
ERROR_BIT = 0x40  # DLE EOT 2
NEAR_END_BITS = 0x0C  # DLE EOT 4
PAPER_END_BITS = 0x60  # DLE EOT 4
FIXED_MASK, FIXED_BITS = 0x93, 0x12


class PrinterIOError(OSError):
    """The printer could not be reached, or the link broke; ``detail`` says how, for the message."""


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer reported about itself."""

    online: bool = True
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    error: bool = False

    @property
    def problem(self) -> str | None:
        """The message code of what stops printing (most specific first), or None when it can print."""
        if self.paper_out:
            return "PRINTER_PAPER_OUT"
        if self.cover_open:
            return "PRINTER_COVER_OPEN"
        if not self.online or self.error:
            return "PRINTER_OFFLINE"
        return None

    @classmethod
    def from_bytes(cls, printer: int, offline: int, paper: int) -> PrinterStatus:
        for b in (printer, offline, paper):
            if b & FIXED_MASK != FIXED_BITS:
                raise PrinterIOError(f"not a status byte: {b:#04x}")
        return cls(
            online=not printer & OFFLINE_BIT,
            cover_open=bool(offline & COVER_OPEN_BIT),
            paper_out=bool(paper & PAPER_END_BITS) or bool(offline & PAPER_END_STOP_BIT),
            paper_near_end=bool(paper & NEAR_END_BITS),
            error=bool(offline & ERROR_BIT),
        )


class Backend:
    """A printer link: open, write bytes, ask for status, close. Errors come out as :class:`PrinterIOError`."""

    name: str = "printer"
    can_read_status = False

    def __init__(self, device: escpos_printer.Escpos, name: str) -> None:
        self.device = device
        self.name = name

    def open(self) -> None:
        try:
            self.device.open()
        except (EscposError, OSError, ValueError) as exc:  # pyusb's NoBackendError is a ValueError
            detail = _detail(exc)
            if isinstance(self, UsbBackend) and not detail.startswith("PRINTER_DETAIL_"):
                detail = "PRINTER_DETAIL_NO_USB"
            raise PrinterIOError(detail) from exc

    def close(self) -> None:
        try:
            self.device.close()
        except (EscposError, OSError):
            pass  # closing a link that already broke

    def write(self, data: bytes) -> None:
        try:
            self.device._raw(data)
        except (EscposError, OSError, AssertionError) as exc:
            raise PrinterIOError(_detail(exc)) from exc

    def _read_byte(self) -> bytes:
        return self.device._read()

    def status(self) -> PrinterStatus | None:
        """DLE EOT 1, 2 and 4, one answer byte each; None when this link cannot read."""
        if not self.can_read_status:
            return None
        answers = []
        for n in (1, 2, 4):
            self.write(DLE + EOT + bytes((n,)))
            try:
                got = self._read_byte()
            except (EscposError, OSError, AssertionError) as exc:
                raise PrinterIOError(_detail(exc)) from exc
            if not got:
                raise PrinterIOError("PRINTER_DETAIL_NO_ANSWER")
            answers.append(got[-1])
        return PrinterStatus.from_bytes(*answers)


def _detail(exc: BaseException) -> str:
    """A message code (``PRINTER_DETAIL_*``) for the failures people meet, else the system's words."""
    text = str(exc).strip()
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return "PRINTER_DETAIL_REFUSED"
    if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in text:
        return "PRINTER_DETAIL_TIMEOUT"
    if "No backend available" in text or "USB" in type(exc).__name__ or "not found" in text.lower():
        return "PRINTER_DETAIL_NO_USB" if "usb" in (text + type(exc).__name__).lower() else text
    return text.splitlines()[-1] if text else type(exc).__name__


class NetworkBackend(Backend):
    """A printer on the LAN, raw TCP (port 9100, "JetDirect"); it answers DLE EOT on the same socket."""

    can_read_status = True

    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0, name: str | None = None) -> None:
        super().__init__(escpos_printer.Network(host, port, timeout=timeout), name or f"{host}:{port}")

    def open(self) -> None:
        # python-escpos 3.1's Network.open drops the socket unclosed when connect fails (a leaked
        # descriptor per retry on a station that retries for hours); connect here, then hand it over.
        device = self.device
        try:
            device.device = socket.create_connection((device.host, device.port), timeout=device.timeout)
        except OSError as exc:
            raise PrinterIOError(_detail(exc)) from exc


class UsbBackend(Backend):
    """A USB printer by vendor/product id (from settings), through pyusb; status on the IN endpoint."""

    can_read_status = True

    def __init__(self, vendor_id: int, product_id: int, *, timeout: int = 2000, in_ep: int = 0x82,
                 out_ep: int = 0x01, name: str | None = None) -> None:
        device = escpos_printer.Usb(vendor_id, product_id, timeout=timeout, in_ep=in_ep, out_ep=out_ep)
        super().__init__(device, name or f"USB {vendor_id:04x}:{product_id:04x}")


class SerialBackend(Backend):
    """A printer on a serial port (or a USB-serial adapter), through pyserial."""

    can_read_status = True

    def __init__(self, port: str, baudrate: int = 9600, timeout: float = 1.0, name: str | None = None) -> None:
        super().__init__(escpos_printer.Serial(port, baudrate=baudrate, timeout=timeout), name or port)

    def _read_byte(self) -> bytes:
        # python-escpos reads 16 bytes, which on a serial line waits out the whole timeout.
        assert self.device.device
        return self.device.device.read(1)


class FileBackend(Backend):
    """A device node or plain file (e.g. /dev/usb/lp0, or a .bin for inspection); it cannot answer."""

    def __init__(self, path: str, name: str | None = None) -> None:
        super().__init__(escpos_printer.File(path), name or path)

    def write(self, data: bytes) -> None:
        super().write(data)
        try:
            self.device.flush()
        except (EscposError, OSError) as exc:
            raise PrinterIOError(_detail(exc)) from exc


def backend_from_settings(kind: str, **settings: Any) -> Backend:
    """The backend for a printer setting: ``usb`` (vendor_id, product_id), ``network`` (host, port),
    ``serial`` (port, baudrate) or ``file`` (path)."""
    kinds = {"usb": UsbBackend, "network": NetworkBackend, "serial": SerialBackend, "file": FileBackend}
    return kinds[kind](**settings)
