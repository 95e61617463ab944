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


def test_the_secrets_file_is_read_again_only_when_it_changed_and_a_refresh_in_place_never_leaks_into_it(tmp_path):
    ref = "orderhub:shop:PDD-1"
    writer, reader = FileStore(tmp_path / "secrets.json"), FileStore(tmp_path / "secrets.json")
    assert reader.get(ref) is None  # no file yet
    writer.put(ref, Credentials(app_key="k", app_secret="s", access_token="t1"))
    held = reader.get(ref)
    assert held.access_token == "t1"
    held.access_token = "changed-in-memory"  # what a connector does when it refreshes (connectors/pdd.py)
    held.extra["note"] = "x"
    assert reader.get(ref) == Credentials(app_key="k", app_secret="s", access_token="t1")
    writer.put(ref, Credentials(app_key="k", app_secret="s", access_token="t2"))  # another process refreshed
    assert reader.get(ref).access_token == "t2"
    (tmp_path / "secrets.json").unlink()
    assert reader.get(ref) is None
