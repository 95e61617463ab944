"""Extension attributes filled in later, and shop secrets kept out of the database."""

import os
import stat

import sqlalchemy as sa

from app.db.models import Order, OrderExtAttr, Shop
from app.hub.credentials import FileStore, open_store
from app.services import ingest
from connectors.base import Credentials
from tests.support.factories import make_order


def test_a_creator_commission_rate_can_arrive_after_the_order_and_moves_the_change_feed(hub):
    order_no, version = make_order(hub, "paid", platform="douyin")
    with hub.uow() as uow:
        seq = uow.session.scalar(sa.select(Order.change_seq).where(Order.order_no == order_no))
    ingest.fill_ext(hub.uow(), order_no, {"author_commission_rate": "20"})
    ingest.fill_ext(hub.uow(), order_no, {"author_commission_rate": "25", "author_name": "宝妈小鱼"})
    with hub.uow() as uow:
        values = dict(uow.session.execute(sa.select(OrderExtAttr.key, OrderExtAttr.value)).all())
        order = uow.session.execute(sa.select(Order).where(Order.order_no == order_no)).scalar_one()
    assert values == {"author_commission_rate": "25", "author_name": "宝妈小鱼"}
    assert order.version == version + 2 and order.change_seq > seq


def test_secrets_live_in_a_private_file_when_there_is_no_keyring_never_in_the_database(hub, tmp_path):
    store = open_store(tmp_path)  # this headless machine has no OS keyring
    assert isinstance(store, FileStore)
    store.put("orderhub:shop:DY-FLAG", Credentials(app_key="k", app_secret="very-secret", access_token="t"))
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode)
    assert mode == 0o600
    assert store.get("orderhub:shop:DY-FLAG").app_secret == "very-secret"
    with hub.uow() as uow:
        uow.session.add(Shop(code="DY-FLAG", name="抖音旗舰店", platform="douyin", credentials_ref="orderhub:shop:DY-FLAG"))
        uow.commit()
        dump = uow.session.scalar(sa.text("SELECT string_agg(t::text, ' ') FROM shops t"))
    assert "very-secret" not in dump and "orderhub:shop:DY-FLAG" in dump
