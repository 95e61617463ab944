"""Per-shop pull state: the high-water mark, the last success, and failures people can see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db.models import Shop, ShopSyncState
from app.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class ShopConfig:
    """What a poller needs to know about a shop (secrets are fetched separately, by reference)."""

    id: int
    code: str
    name: str
    platform: str
    poll_interval_s: int
    api_base_url: str | None
    credentials_ref: str | None
    platform_shop_id: str | None


@dataclass(frozen=True, slots=True)
class SyncState:
    shop_id: int
    high_water: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    orders_ingested: int
    owner_hub: str | None


def enabled_shops(uow: UnitOfWork) -> list[ShopConfig]:
    with uow:
        rows = uow.session.execute(
            sa.select(Shop.id, Shop.code, Shop.name, Shop.platform, Shop.poll_interval_s, Shop.api_base_url,
                      Shop.credentials_ref, Shop.platform_shop_id).where(Shop.enabled).order_by(Shop.id))
        return [ShopConfig(*row) for row in rows]


def state(uow: UnitOfWork, shop_id: int) -> SyncState:
    with uow:
        row = uow.session.get(ShopSyncState, shop_id)
        if row is None:
            return SyncState(shop_id, None, None, None, 0, 0, None)
        return SyncState(shop_id, row.high_water, row.last_success_at, row.last_error, row.consecutive_failures,
                         row.orders_ingested, row.owner_hub)


def _upsert(uow: UnitOfWork, shop_id: int, **values: object) -> None:
    stmt = pg_insert(ShopSyncState).values(shop_id=shop_id, **values)
    uow.session.execute(stmt.on_conflict_do_update(index_elements=[ShopSyncState.shop_id], set_=values))


def window_done(uow: UnitOfWork, shop_id: int, end: datetime) -> None:
    """A whole window was pulled and stored: the high-water mark moves forward (never back)."""
    with uow:
        stmt = pg_insert(ShopSyncState).values(shop_id=shop_id, high_water=end)
        current = ShopSyncState.__table__.c.high_water
        uow.session.execute(stmt.on_conflict_do_update(
            index_elements=[ShopSyncState.shop_id],
            set_={"high_water": sa.func.greatest(sa.func.coalesce(current, end), end)}))
        uow.commit()


def pull_succeeded(uow: UnitOfWork, shop_id: int, at: datetime) -> None:
    with uow:
        _upsert(uow, shop_id, last_attempt_at=at, last_success_at=at, consecutive_failures=0, last_error=None)
        uow.commit()


def pull_failed(uow: UnitOfWork, shop_id: int, at: datetime, message: str) -> None:
    """Record a failed pull in business language; the next poll retries from the same high-water mark."""
    with uow:
        stmt = pg_insert(ShopSyncState).values(shop_id=shop_id, last_attempt_at=at, last_error=message,
                                               last_error_at=at, consecutive_failures=1)
        c = ShopSyncState.__table__.c
        uow.session.execute(stmt.on_conflict_do_update(
            index_elements=[ShopSyncState.shop_id],
            set_={"last_attempt_at": at, "last_error": message, "last_error_at": at,
                  "consecutive_failures": c.consecutive_failures + 1}))
        uow.commit()


def heartbeat(uow: UnitOfWork, shop_id: int, hub_id: str | None, at: datetime) -> None:
    with uow:
        _upsert(uow, shop_id, owner_hub=hub_id, owner_heartbeat_at=at)
        uow.commit()
