"""Platform field definitions (平台字段定义): the business names and value types of each platform's extra fields.

Orders keep a platform's own fields (淘宝's 天猫积分, 抖店's 达人ID…) as extension attributes; these
definitions say how people read them. Editing one changes every screen that shows the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from app.db.models import PlatformFieldDef
from app.domain.actor import Actor
from app.domain.errors import BusinessError, InvalidValue
from app.domain.fields import CODE_LISTS, label
from app.services import audit
from app.services.permissions import require
from app.services.unit_of_work import UnitOfWork

_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,59}$")


@dataclass(frozen=True, slots=True)
class FieldDefView:
    platform: str
    key: str
    label_zh: str
    label_en: str
    value_type: str
    sort_order: int = 0


def list_field_defs(uow: UnitOfWork, platform: str | None = None) -> list[FieldDefView]:
    with uow:
        q = sa.select(PlatformFieldDef).order_by(PlatformFieldDef.platform, PlatformFieldDef.sort_order, PlatformFieldDef.key)
        if platform:
            q = q.where(PlatformFieldDef.platform == platform)
        return [FieldDefView(d.platform, d.key, d.label_zh, d.label_en, d.value_type, d.sort_order)
                for d in uow.session.scalars(q)]


def save_field_def(uow: UnitOfWork, draft: FieldDefView, actor: Actor) -> FieldDefView:
    """Add or change one platform field's names and value type, audited. Permission: ``field_defs.manage``.

    Raises:
        BusinessError: ``FIELD_DEF_LABEL_MISSING``; ``INVALID_VALUE`` for an unknown platform, key or value type.
    """
    zh, en = draft.label_zh.strip(), draft.label_en.strip()
    if not zh or not en:
        raise BusinessError("FIELD_DEF_LABEL_MISSING")
    if draft.platform not in CODE_LISTS["platform"]:
        raise InvalidValue(field=label("field_def", "platform"), value=draft.platform, reason="未知平台")
    if not _KEY.match(draft.key):
        raise InvalidValue(field=label("field_def", "key"), value=draft.key, reason="字母开头，字母、数字、_ 或 .")
    if draft.value_type not in CODE_LISTS["value_type"]:
        raise InvalidValue(field=label("field_def", "value_type"), value=draft.value_type, reason="未知值类型")
    if len(zh) > 60 or len(en) > 80:
        raise InvalidValue(field=label("field_def", "label_zh"), value=zh[:20], reason="太长")
    saved = FieldDefView(draft.platform, draft.key, zh, en, draft.value_type, int(draft.sort_order))
    with uow:
        require(uow, actor, "field_defs.manage")
        s = uow.session
        row = s.get(PlatformFieldDef, (draft.platform, draft.key), with_for_update=True)
        before = None if row is None else {"label_zh": row.label_zh, "label_en": row.label_en,
                                           "value_type": row.value_type, "sort_order": row.sort_order}
        row = row or PlatformFieldDef(platform=draft.platform, key=draft.key)
        row.label_zh, row.label_en, row.value_type, row.sort_order = zh, en, saved.value_type, saved.sort_order
        s.add(row)
        audit.record(s, actor, "field_def.save", "platform_field_defs", f"{draft.platform}.{draft.key}", basis=None,
                     before=before, after={"label_zh": zh, "label_en": en, "value_type": saved.value_type,
                                           "sort_order": saved.sort_order})
        uow.commit()
    return saved
