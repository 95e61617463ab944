"""A small ERPNext-like ERP on loopback: receives OrderHub's signed webhooks, keeps Sales Orders and Bins, and
sends its own changes back as webhooks (ERPNext's Frappe signature or Standard Webhooks).

What it mimics from ERPNext: documents with ``doctype``/``name``/``modified``, a ``Sales Order``
whose ``po_no`` holds the customer's order ID (ours) and whose ``status`` is one of ERPNext's
(To Deliver and Bill, To Bill, Completed, Cancelled …), ``Bin`` for stock per item and warehouse,
REST reads at ``/api/resource/<doctype>/<name>`` answering ``{"data": {...}}``, and outgoing
webhooks that post the document as ``json.dumps`` with default separators, signed with
``X-Frappe-Webhook-Signature``. What it does not: Frappe's permission model, Jinja bodies, and
its 3 retries on failure (tests drive resends themselves).

Inbound it verifies Standard Webhooks with the specification's reference library (so a delivery
that passes here passes any conforming receiver), applies each ``webhook-id`` once, and can be
told to fail or to lose its answer after applying (the reply comes after the sender gave up).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from connectors.erp_webhooks import frappe_signature, sign_standard
from connectors.simulators.server import Request, Response

CST = timezone(timedelta(hours=8))
# Our stage → the Sales Order status ERPNext would show for it.
STAGE_TO_ERPNEXT = {"pending_payment": "Draft", "paid": "To Deliver and Bill", "allocating": "To Deliver and Bill",
                    "shipped": "To Bill", "completed": "Completed", "cancelled": "Cancelled",
                    "after_sales": "To Bill"}


def _json(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body, ensure_ascii=False).encode())


@dataclass
class ErpSimulator:
    """The ERP. ``secrets`` verify what OrderHub sends; ``hub_url``/``hub_secret`` sign what it sends back."""

    secrets: Sequence[str]
    hub_url: str | None = None
    hub_secret: str | None = None
    scheme: str = "frappe"  # how it signs its own webhooks: "frappe" or "standard"
    sales_orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by SO name
    bins: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)  # applied events, in arrival order
    seen_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    refused: int = 0
    fail_next: int = 0  # answer the next N deliveries with ``fail_status`` without applying them
    fail_status: int = 503
    fail_orders: set[str] = field(default_factory=set)  # answer ``fail_status`` to every event of these orders
    lose_next: int = 0  # apply the next N, then answer only after ``lose_seconds`` (the sender gave up)
    lose_seconds: float = 1.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: int = 0
    _sent: int = 0
    _http: requests.Session = field(default_factory=requests.Session)  # kept alive, as a real ERP's worker would

    # --- OrderHub → ERP ------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.method == "GET" and req.path.startswith("/api/resource/"):
            return self._read(req)
        if req.method == "POST" and req.path == "/api/method/orderhub.webhook":
            return self._webhook(req)
        return _json(404, {"exc_type": "DoesNotExistError", "message": "Not found"})

    def _webhook(self, req: Request) -> Response:
        text = req.body.decode("utf-8", errors="replace")
        verified = False
        for secret in self.secrets:
            try:
                Webhook(secret).verify(text, req.headers, json_parse=False)
                verified = True
                break
            except WebhookVerificationError:
                continue
        if not verified:
            with self._lock:
                self.refused += 1
            return _json(401, {"exc_type": "AuthenticationError", "message": "Invalid webhook signature"})
        msg_id = req.headers["webhook-id"]
        with self._lock:
            event = json.loads(text)
            if self.fail_next > 0 or event.get("order_no") in self.fail_orders:
                self.fail_next = max(0, self.fail_next - 1)
                return _json(self.fail_status, {"exc_type": "ServiceUnavailable", "message": "Try again later"})
            if msg_id in self.seen_ids:
                self.duplicates += 1
                return _json(200, {"message": "already received", "webhook_id": msg_id})
            self.seen_ids.add(msg_id)
            self.received.append(event)
            so = self._apply(event)
            lose = self.lose_next > 0
            if lose:
                self.lose_next -= 1
        if lose:
            time.sleep(self.lose_seconds)
        return _json(200, {"message": "ok", "sales_order": so})

    def _apply(self, event: dict[str, Any]) -> str | None:
        order_no, data = event.get("order_no"), event.get("data", {})
        so = next((s for s in self.sales_orders.values() if s["po_no"] == order_no), None)
        if so is None and event["type"] == "order.created":
            self._seq += 1
            name = f"SAL-ORD-{datetime.now(CST):%Y}-{self._seq:05d}"
            so = self.sales_orders[name] = {"doctype": "Sales Order", "name": name, "po_no": order_no,
                                            "customer": data.get("customer_id"),
                                            "grand_total": data.get("paid_amount"), "docstatus": 1}
        if so is None:
            return None
        if "status" in data and event["type"].startswith("order."):
            so["status"] = STAGE_TO_ERPNEXT.get(data["status"], so.get("status", "Draft"))
            so["orderhub_stage"] = data["status"]
        if event["type"] == "invoice.issued":
            so["per_billed"] = 100
        so["modified"] = self._now()
        return so["name"]

    def _read(self, req: Request) -> Response:
        parts = [unquote(p) for p in req.path.split("/") if p][2:]
        if len(parts) == 2 and parts[0] == "Sales Order" and parts[1] in self.sales_orders:
            return _json(200, {"data": self.sales_orders[parts[1]]})
        if len(parts) == 1 and parts[0] == "Sales Order":
            return _json(200, {"data": [{"name": n} for n in self.sales_orders]})
        return _json(404, {"exc_type": "DoesNotExistError", "message": f"{'/'.join(parts)} not found"})

    def _now(self) -> str:
        # ERPNext writes ``modified`` in the site's time zone, without one, to the microsecond.
        return datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S.%f")

    # --- ERP → OrderHub ------------------------------------------------------------------------
    def sales_order_of(self, order_no: str) -> dict[str, Any] | None:
        return next((s for s in self.sales_orders.values() if s["po_no"] == order_no), None)

    def set_status(self, order_no: str, status: str, *, send: bool = True) -> requests.Response | None:
        """Someone in the ERP changed the Sales Order (e.g. delivered it): update it and tell OrderHub."""
        so = self.sales_order_of(order_no)
        if so is None:
            raise KeyError(order_no)
        so["status"], so["modified"] = status, self._now()
        return self.send_document(so) if send else None

    def set_stock(self, item_code: str, warehouse: str, qty: int, *, send: bool = True) -> requests.Response | None:
        doc = self.bins.setdefault((item_code, warehouse), {"doctype": "Bin", "name": f"BIN-{len(self.bins) + 1:05d}",
                                                           "item_code": item_code, "warehouse": warehouse})
        doc["actual_qty"], doc["modified"] = qty, self._now()
        return self.send_document(doc) if send else None

    def send_document(self, doc: dict[str, Any]) -> requests.Response:
        """Post a document to OrderHub the way ERPNext's webhook does (or as a Standard Webhook)."""
        assert self.hub_url and self.hub_secret, "no OrderHub address configured"
        if self.scheme == "frappe":
            body = json.dumps(doc).encode("utf-8")  # Frappe: json.dumps(data) with default separators
            headers = {"Content-Type": "application/json",
                       "X-Frappe-Webhook-Signature": frappe_signature(body, self.hub_secret)}
        else:
            body, headers = self._standard(doc)
        self._sent += 1
        return self._http.post(self.hub_url, data=body, headers=headers, timeout=10)

    def _standard(self, doc: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        now = datetime.now(CST)
        if doc["doctype"] == "Bin":
            kind = "stock.level"
            data: dict[str, Any] = {"sku": doc["item_code"], "warehouse": doc["warehouse"], "on_hand": doc["actual_qty"]}
        else:
            kind = "order.status"
            reverse = {v: k for k, v in STAGE_TO_ERPNEXT.items() if k not in ("paid", "after_sales")}
            data = {"order_no": doc["po_no"], "status": reverse.get(doc["status"], "allocating"),
                    "erp_status": doc["status"], "erp_order_no": doc["name"]}
        text = json.dumps({"type": kind, "timestamp": now.isoformat(), "data": data}, ensure_ascii=False)
        msg_id = f"msg_erp_{doc['name']}_{self._sent}"
        return text.encode(), sign_standard(msg_id, now, text, [self.hub_secret]) | {"Content-Type": "application/json"}



class ErpAnimator(threading.Thread):
    """Demo only: like ERPNext's on-update webhooks, posts back every Sales Order changed since the last round."""

    def __init__(self, erp: ErpSimulator, *, every: float = 10.0) -> None:
        super().__init__(daemon=True, name="erp-sim")
        self.erp, self.every, self.stop_event = erp, every, threading.Event()
        self._posted: dict[str, str] = {}

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            for so in list(self.erp.sales_orders.values()):
                if self._posted.get(so["name"]) == so.get("modified") or "status" not in so:
                    continue
                try:
                    self.erp.send_document(dict(so))
                    self._posted[so["name"]] = so["modified"]
                except requests.RequestException:
                    break  # the hub is not up yet: next round

    def stop(self) -> None:
        self.stop_event.set()
