"""The station's slip printer, chosen at the admin station: saved to the station's config file and tried with a test slip.

The printer is the station's, not the company's: it is kept in this computer's ``config.toml``
(the same ``slip_printer`` / ``slip_profile`` settings the warehouse station reads at sign-in),
and the change is audited with the station's name. A test slip goes through the same queue and
backend as real slips, so "printed" means the printer took the bytes and answered a status query.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.actor import Actor
from app.domain.clock import now as clock_now
from app.domain.errors import BusinessError
from app.domain.fields import CODE_LISTS, Lang, code_label
from app.domain.messages import MESSAGES, Coded, render
from app.domain.slip import PickSlip, SlipLine
from app.services import audit
from app.services.permissions import require
from app.services.pick_slips import PAPER, parse_printer
from app.services.unit_of_work import UnitOfWork
from app.settings import Settings, write_settings

DEFAULT_ADDRESS = {"network": "192.168.1.50:9100", "usb": "0x0416:0x5011", "serial": "/dev/ttyUSB0:9600",
                   "file": "slips.bin"}


@dataclass(frozen=True, slots=True)
class PrinterChoice:
    """How the form shows a printer: the kind of connection, its address, the paper."""

    backend: str
    address: str
    paper: str

    @property
    def spec(self) -> str:
        return f"{self.backend}:{self.address.strip()}"


@dataclass(frozen=True, slots=True)
class PrintTrial:
    printed: bool
    message: str


def current(settings: Settings) -> PrinterChoice | None:
    """The printer the station's settings name now (None when it has none)."""
    if not settings.slip_printer:
        return None
    backend, _, address = settings.slip_printer.partition(":")
    return PrinterChoice(backend, address, settings.slip_profile)


def checked(choice: PrinterChoice) -> tuple[str, dict[str, Any]]:
    """The backend arguments for ``choice``; a printer that names nothing is refused in words.

    Raises:
        BusinessError: ``PRINTER_ADDRESS_MISSING``, ``INVALID_VALUE`` (bad address or paper).
    """
    if choice.backend not in CODE_LISTS["printer_backend"]:
        raise BusinessError("INVALID_VALUE", field="连接方式", value=choice.backend, reason="网络、USB、串口或文件")
    if not choice.address.strip():
        raise BusinessError("PRINTER_ADDRESS_MISSING")
    if choice.paper not in CODE_LISTS["slip_profile"]:
        raise BusinessError("INVALID_VALUE", field="纸张规格", value=choice.paper, reason="a5 / 4in / 80mm / 58mm")
    return parse_printer(choice.spec)


def save_printer(uow: UnitOfWork, config_path: Path, choice: PrinterChoice, actor: Actor, *, lang: Lang = "zh") -> str:
    """Write the printer into this station's config file and audit it. Permission: ``printers.manage``."""
    checked(choice)
    with uow:
        require(uow, actor, "printers.manage")  # before the config file is touched: a refusal changes nothing
        write_settings(config_path, slip_printer=choice.spec, slip_profile=choice.paper)
        audit.record(uow.session, actor, "station.printer_set", "stations", actor.station, basis=None, before=None,
                     after={"slip_printer": choice.spec, "slip_profile": choice.paper})
        uow.commit()
    return render("PRINTER_SAVED", lang, path=str(config_path))


def sample_slip(station: str, lang: Lang = "zh") -> PickSlip:
    """A slip with Chinese text, a barcode and the QR codes: if it reads right, real slips will."""
    zh = lang == "zh"
    line = SlipLine("TEST-0001", "6901234567892", "打印测试 · 小熊卫衣" if zh else "Test print · bear hoodie",
                    "红" if zh else "red", "120", 1, "A-01-01-1", "A区 1排 1架 1层" if zh else "Zone A row 1 rack 1 level 1", 1)
    return PickSlip(order_no="TEST-PRINT", platform="测试" if zh else "Test", shop=station, warehouse="-",
                    priority=code_label("pick_priority", "normal", lang), ship_by=None, lines=(line,),
                    notes=("能清楚看到中文、条码和二维码即为正常" if zh else "Chinese text, barcode and QR code readable: all good",),
                    printed_at=clock_now())


def print_test_slip(uow: UnitOfWork, choice: PrinterChoice, actor: Actor, *, lang: Lang = "zh",
                    timeout: float = 5.0) -> PrintTrial:
    """Print one test slip now and say in words whether it printed (and if not, what the printer said).

    A throw-away queue is used, so a test slip that could not print never comes out later.
    Permission: ``printers.manage``.
    """
    from printers.backends import backend_from_settings
    from printers.escpos_render import render_escpos
    from printers.layout import lay_out
    from printers.profiles import profile

    kind, args = checked(choice)
    with uow:
        require(uow, actor, "printers.manage")  # paper and a printer's time are the company's too
    if kind == "network":
        args["timeout"] = timeout
    paper = profile(PAPER[choice.paper])
    data = render_escpos(lay_out(sample_slip(actor.station, lang), paper, lang))
    from printers.queue import PrintQueue

    with tempfile.TemporaryDirectory(prefix="orderhub-test-print-") as folder:
        queue = PrintQueue(Path(folder) / "test.sqlite3", backend_from_settings(kind, **args))
        try:
            job_id = queue.submit("TEST-PRINT", data).job_id
            queue.run_once()
            job = queue.job(job_id)
            name = queue.backend.name
        finally:
            queue.close()
    paper_name = Coded("slip_profile", choice.paper)
    if job.state == "printed":
        return PrintTrial(True, render("PRINTER_TEST_OK", lang, printer=name, paper=paper_name))
    # the queue's own sentences say "the slip stays queued": true for real slips, not for this throw-away one
    params = dict(job.problem_params)
    if str(params.get("detail", "")).startswith("PRINTER_DETAIL_"):
        params["detail"] = render(params["detail"], lang)
    test_code = f"TEST_{job.problem_code}"
    problem = render(test_code, lang, **params) if test_code in MESSAGES else (job.problem(lang) or "")
    return PrintTrial(False, render("PRINTER_TEST_FAILED", lang, problem=problem))
