"""A station as its own process (for the kill test and the benchmark): JSON commands in on stdin, events out on stdout.

``--qt`` runs a Qt event loop with the real order list model fed from the station cache, and
reports when a watched order's new version is in that model (what a person would see).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from app.domain.actor import Actor
from app.sync.cache import Scope
from app.sync.station_sync import StationSync


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--name", default="station")
    parser.add_argument("--qt", action="store_true")
    parser.add_argument("--no-start", action="store_true")
    parser.add_argument("--heartbeat", type=float, help="beat every N seconds as the signed-in --operator")
    parser.add_argument("--operator", default="bench")
    parser.add_argument("--role", default="cs")
    opts = parser.parse_args()
    beat = None
    if opts.heartbeat:
        from app import __version__
        from app.services.stations import Heartbeat

        beat = lambda pending: Heartbeat(opts.name, (opts.role,), opts.operator, opts.operator, opts.role,  # noqa: E731
                                         __version__, pending, max(int(opts.heartbeat), 1))
    station = StationSync(opts.url, Path(opts.dir), Scope("cs"), pull_interval=2.0, heartbeat=beat,
                          heartbeat_every=opts.heartbeat or 30.0)
    actor = Actor(opts.operator, opts.name)
    station.on_status = lambda s: emit(ev="status", state=s.state, pending=s.pending, text=s.text(), pid=os.getpid())

    def handle(cmd: dict) -> None:
        if cmd["op"] == "submit":
            entry = station.submit(actor, cmd["name"], cmd["args"])
            emit(ev="saved", tag=cmd.get("tag"), id=str(entry.command.id), t=time.time())
        elif cmd["op"] == "notes":  # a list of prepared notes, each saved as the person would
            for args in cmd["args"]:
                entry = station.submit(actor, "order.add_warehouse_note", args)
                emit(ev="saved", tag=args["text"], id=str(entry.command.id))
        elif cmd["op"] == "burst":  # many commands as fast as the disk allows (the kill test cuts in here)
            for n in range(cmd["n"]):
                entry = station.submit(actor, "order.add_warehouse_note",
                                       {"order_no": cmd["order_no"], "expected_version": cmd["version"],
                                        "text": f"连发{n:05d}"})
                emit(ev="saved", tag=n, id=str(entry.command.id))

    if not opts.qt:
        if not opts.no_start:
            station.start()
        emit(ev="ready")
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "quit":
                break
            handle(cmd)
        station.stop()
        return 0

    from PySide6.QtCore import QCoreApplication, QObject, Signal

    from app.services.order_queries import OrderFilter
    from app.ui.order_table import OrderTableModel

    class Pump(QObject):
        line = Signal(object)
        changed = Signal(object)

    app = QCoreApplication(sys.argv[:1])
    model = OrderTableModel(lambda after, n: station.cache.list_orders(OrderFilter(), limit=n, after=after))
    model.set_query(model._query)
    watched: dict[str, int] = {}
    pump = Pump()

    def check(_: object = None) -> None:
        model.reload()
        for n in range(model.rowCount()):
            row = model.row_at(n)
            want = watched.get(row.order_no)
            if want is not None and row.version >= want:
                del watched[row.order_no]
                emit(ev="seen", order_no=row.order_no, version=row.version, t=time.time())

    def on_line(cmd: dict) -> None:
        if cmd["op"] == "quit":
            app.quit()
        elif cmd["op"] == "watch":
            watched[cmd["order_no"]] = cmd["version"]
            check()
        else:
            handle(cmd)

    pump.line.connect(on_line)
    pump.changed.connect(check)
    station.on_orders_changed = pump.changed.emit

    def read() -> None:
        for line in sys.stdin:
            pump.line.emit(json.loads(line))
        pump.line.emit({"op": "quit"})

    threading.Thread(target=read, daemon=True).start()
    station.start()
    emit(ev="ready")
    app.exec()
    station.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
