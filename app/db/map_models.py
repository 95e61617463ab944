"""The order map's counts (issue #18): per province × status × platform × shop × warehouse × 下单时段. Migration 0020.

Writers of orders only append signed deltas (statement triggers, no shared row to wait on, so two
hubs importing at once never queue behind one hot counter); ``order_map_fold()`` moves them into
the counts now and then. A reader sums counts + deltas: exact in its own snapshot, and a re-count
after a filter change reads a few thousand rows instead of every order.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base


class OrderMapCount(Base):
    """Orders with one combination of the map's keys (``warehouse_id`` 0: not yet routed)."""

    __tablename__ = "order_map_counts"

    province: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    shop_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour_band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # China hour the band starts at
    orders: Mapped[int] = mapped_column(BigInteger)


class OrderMapDelta(Base):
    """A signed change to one combination's count, appended in the writer's transaction."""

    __tablename__ = "order_map_deltas"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    province: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    platform: Mapped[str] = mapped_column(String(20))
    shop_id: Mapped[int] = mapped_column(Integer)
    warehouse_id: Mapped[int] = mapped_column(Integer)
    hour_band: Mapped[int] = mapped_column(SmallInteger)
    orders: Mapped[int] = mapped_column(BigInteger)
