"""Carrier pushes at the hub's receiver: ``POST /carrier/kuaidi100``, ``/carrier/kuaidi100-intercept``, ``/carrier/sf``.

Each push is verified with the carrier's own signing (快递100: MD5 of param + salt; 顺丰:
msgDigest), its nodes stored on the parcel, and answered with the exact body the carrier expects
(anything else makes it resend). A wrong signature is refused — recorded with the reason and
answered as a failure — and nothing of it is applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.bootstrap import OrderHub
from app.services import tracking
from connectors import kuaidi100, sf_express
from connectors.tracking import PushRefused

log = logging.getLogger(__name__)
RAW_REPLY = "__raw_reply__"  # the same key app.hub.receiver sends verbatim
KD100_INTERCEPT_RESULT = "kuaidi100 拦截结果推送"


@dataclass(frozen=True)
class CarrierAccounts:
    """The secrets pushes are checked with (from the credential store, never the database)."""

    kuaidi100_salt: str = ""
    sf_partner_id: str = ""
    sf_check_word: str = ""


class CarrierReceiver:
    def __init__(self, app: OrderHub, accounts: CarrierAccounts) -> None:
        self.app, self.accounts = app, accounts

    def handle(self, carrier: str, body: bytes) -> tuple[int, dict[str, object]]:
        if carrier == "kuaidi100":
            return self._kuaidi100(body)
        if carrier == "sf":
            return self._sf(body)
        if carrier == "kuaidi100-intercept":
            return self._kuaidi100_intercept(body)
        return 404, {"ok": False, "message": f"不认识的承运商推送地址「{carrier}」"}

    def _kuaidi100(self, body: bytes) -> tuple[int, dict[str, object]]:
        try:
            push = kuaidi100.read_push(body, self.accounts.kuaidi100_salt)
        except PushRefused as no:
            tracking.refused(self.app.uow(), "kuaidi100", body, no.reason, no.tracking_no)
            return 401, {"ok": False, "message": no.reason, RAW_REPLY: kuaidi100.reply_refused(no.reason)}
        outcome = tracking.record_push(self.app.uow(), push, body)
        return 200, {"ok": True, "new_nodes": outcome.new_nodes, RAW_REPLY: kuaidi100.REPLY_OK}

    def _kuaidi100_intercept(self, body: bytes) -> tuple[int, dict[str, object]]:
        """快递100's interception result (after ``interceptOrder``): the parcel's interception succeeded or failed."""
        try:
            result = kuaidi100.read_intercept_result(body, self.accounts.kuaidi100_salt)
        except PushRefused as no:
            tracking.refused(self.app.uow(), "kuaidi100", body, no.reason, no.tracking_no)
            return 401, {"ok": False, "message": no.reason, RAW_REPLY: kuaidi100.reply_refused(no.reason)}
        outcome = tracking.intercept_result(self.app.uow(), "kuaidi100", KD100_INTERCEPT_RESULT, result.tracking_no,
                                            result.state, result.reason, body, code=result.task_id)
        return 200, {"ok": True, "applied": outcome.applied, RAW_REPLY: kuaidi100.REPLY_OK}

    def _sf(self, body: bytes) -> tuple[int, dict[str, object]]:
        try:
            pushes = sf_express.read_push(body, self.accounts.sf_partner_id, self.accounts.sf_check_word)
        except PushRefused as no:
            tracking.refused(self.app.uow(), "sf", body, no.reason, no.tracking_no)
            return 401, {"ok": False, "message": no.reason, RAW_REPLY: sf_express.REPLY_FAIL}
        new = sum(tracking.record_push(self.app.uow(), push, body).new_nodes for push in pushes)
        return 200, {"ok": True, "new_nodes": new, RAW_REPLY: sf_express.REPLY_OK}
