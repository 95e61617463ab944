"""Allocation at ≥ 1,000 orders/s (issue #18): triggers on the routing write path work per statement, and only on what changed.

Revision ID: 0031
Revises: 0029

A routing batch of 100 orders is one statement that updates 100 orders, inserts 100 decisions and
about 190 reservations. Before this revision that statement also ran, per order row, the ERP trigger
(one ``erp_endpoints`` look-up each, even with no ERP connected) and the 数电票 trigger (fired by every
update whose SET list names ``invoice_status``, returning at once), and the health trigger on
``routing_decisions`` re-derived the facts of every order decided, although a decision only moves an
order's facts when it is a split or a hold, or names a rule version not on record.

- ``orders_erp_event``: one statement-level trigger per event with transition tables; the endpoint
  check runs once per statement, then ``erp_emit`` per changed order in the order the rows were
  written (``change_seq``), with exactly the payloads the row trigger sent.
- ``orders_einvoice_request``: the same function, behind ``WHEN`` conditions, so an order that does
  not become 待开票 queues no trigger event at all.
- ``health_routing_decisions_ins``: refreshes only the orders whose facts the new decisions can change
  (the facts take ``bool_or`` over decisions, so an allocated/shortage/released decision naming known
  rule versions changes nothing); orders whose own columns changed are refreshed by ``health_orders_upd``.

And ``stock_reservations`` checked six foreign keys per row (≈190 lookups each per batch) where two
composite keys say more: (order_id, decision_id) → the decision of *that* order, and (stock_id, sku_id,
warehouse_id) → *that* stock row's SKU and warehouse, so the copies kept for reading can no longer
disagree with what they copy (the decision's own key still points at the order, the stock row's at the
SKU and warehouse). The GIN index on ``routing_decisions.fired_rule_version_ids`` goes: no query reads it
(every lookup of decisions is by order), and each decision paid for it.
"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0031"
down_revision: Union[str, Sequence[str], None] = "0029"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
DROP TRIGGER orders_erp_event ON orders;
DROP FUNCTION orders_erp_event();

CREATE FUNCTION orders_erp_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM erp_endpoints WHERE enabled AND url IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        FOR r IN SELECT * FROM new_rows ORDER BY change_seq LOOP
            PERFORM erp_emit(r.id, r.order_no, 'order.created', jsonb_build_object(
                'order_no', r.order_no, 'platform', r.platform, 'platform_order_no', r.platform_order_no,
                'status', r.status, 'ordered_at', r.ordered_at, 'customer_id', r.customer_id,
                'original_amount', r.original_amount::text, 'paid_amount', r.paid_amount::text,
                'items', r.items, 'invoice_status', r.invoice_status, 'version', r.version));
        END LOOP;
    ELSE
        FOR r IN SELECT n.id, n.order_no, n.status, o.status AS status_before, n.tracking_no, n.version
                 FROM new_rows n JOIN old_rows o ON o.id = n.id
                 WHERE n.status IS DISTINCT FROM o.status ORDER BY n.change_seq LOOP
            PERFORM erp_emit(r.id, r.order_no,
                             CASE WHEN r.status = 'shipped' THEN 'order.shipped' ELSE 'order.stage_changed' END,
                             jsonb_build_object('order_no', r.order_no, 'status', r.status,
                                                'status_before', r.status_before, 'tracking_no', r.tracking_no,
                                                'version', r.version));
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_erp_created AFTER INSERT ON orders REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_erp_events();
CREATE TRIGGER orders_erp_stage_changed AFTER UPDATE ON orders REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_erp_events();

DROP TRIGGER orders_einvoice_request ON orders;
CREATE TRIGGER orders_einvoice_request_ins AFTER INSERT ON orders FOR EACH ROW
    WHEN (NEW.invoice_status = 'pending') EXECUTE FUNCTION orders_einvoice_request();
CREATE TRIGGER orders_einvoice_request_upd AFTER UPDATE OF invoice_status ON orders FOR EACH ROW
    WHEN (NEW.invoice_status = 'pending' AND OLD.invoice_status IS DISTINCT FROM 'pending')
    EXECUTE FUNCTION orders_einvoice_request();

CREATE FUNCTION health_decisions_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM health_refresh(ARRAY(
        SELECT DISTINCT n.order_id FROM new_rows n
        WHERE n.order_id IS NOT NULL
          AND (n.outcome IN ('split', 'held')
               OR EXISTS (SELECT 1 FROM unnest(n.fired_rule_version_ids) v(id)
                          WHERE NOT EXISTS (SELECT 1 FROM rule_versions rv WHERE rv.id = v.id)))));
    RETURN NULL;
END $$;
DROP TRIGGER health_routing_decisions_ins ON routing_decisions;
CREATE TRIGGER health_routing_decisions_ins AFTER INSERT ON routing_decisions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_decisions_inserted();

DROP INDEX ix_routing_decisions_fired;
DROP INDEX ix_routing_decisions_order;
CREATE UNIQUE INDEX ix_routing_decisions_order ON routing_decisions (order_id, id);
ALTER TABLE stock ADD CONSTRAINT uq_stock_id UNIQUE (id, sku_id, warehouse_id);
ALTER TABLE stock_reservations
    DROP CONSTRAINT fk_stock_reservations_order_id_orders,
    DROP CONSTRAINT fk_stock_reservations_decision_id_routing_decisions,
    DROP CONSTRAINT fk_stock_reservations_stock_id_stock,
    DROP CONSTRAINT fk_stock_reservations_sku_id_skus,
    DROP CONSTRAINT fk_stock_reservations_warehouse_id_warehouses,
    ADD CONSTRAINT fk_stock_reservations_order_id_routing_decisions FOREIGN KEY (order_id, decision_id)
        REFERENCES routing_decisions (order_id, id),
    ADD CONSTRAINT fk_stock_reservations_stock_id_stock FOREIGN KEY (stock_id, sku_id, warehouse_id)
        REFERENCES stock (id, sku_id, warehouse_id);
"""

# The 0003 / 0012 / 0013 definitions, as they were.
DOWNGRADE = r"""
ALTER TABLE stock_reservations
    DROP CONSTRAINT fk_stock_reservations_order_id_routing_decisions,
    DROP CONSTRAINT fk_stock_reservations_stock_id_stock,
    ADD CONSTRAINT fk_stock_reservations_decision_id_routing_decisions FOREIGN KEY (decision_id)
        REFERENCES routing_decisions (id),
    ADD CONSTRAINT fk_stock_reservations_order_id_orders FOREIGN KEY (order_id) REFERENCES orders (id),
    ADD CONSTRAINT fk_stock_reservations_sku_id_skus FOREIGN KEY (sku_id) REFERENCES skus (id),
    ADD CONSTRAINT fk_stock_reservations_stock_id_stock FOREIGN KEY (stock_id) REFERENCES stock (id),
    ADD CONSTRAINT fk_stock_reservations_warehouse_id_warehouses FOREIGN KEY (warehouse_id) REFERENCES warehouses (id);
ALTER TABLE stock DROP CONSTRAINT uq_stock_id;
DROP INDEX ix_routing_decisions_order;
CREATE INDEX ix_routing_decisions_order ON routing_decisions (order_id, id);
CREATE INDEX ix_routing_decisions_fired ON routing_decisions USING gin (fired_rule_version_ids);

DROP TRIGGER health_routing_decisions_ins ON routing_decisions;
CREATE TRIGGER health_routing_decisions_ins AFTER INSERT ON routing_decisions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION health_by_order_id();
DROP FUNCTION health_decisions_inserted();

DROP TRIGGER orders_einvoice_request_upd ON orders;
DROP TRIGGER orders_einvoice_request_ins ON orders;
CREATE TRIGGER orders_einvoice_request AFTER INSERT OR UPDATE OF invoice_status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_einvoice_request();

DROP TRIGGER orders_erp_stage_changed ON orders;
DROP TRIGGER orders_erp_created ON orders;
DROP FUNCTION orders_erp_events();
CREATE FUNCTION orders_erp_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM erp_emit(NEW.id, NEW.order_no, 'order.created', jsonb_build_object(
            'order_no', NEW.order_no, 'platform', NEW.platform, 'platform_order_no', NEW.platform_order_no,
            'status', NEW.status, 'ordered_at', NEW.ordered_at, 'customer_id', NEW.customer_id,
            'original_amount', NEW.original_amount::text, 'paid_amount', NEW.paid_amount::text,
            'items', NEW.items, 'invoice_status', NEW.invoice_status, 'version', NEW.version));
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM erp_emit(NEW.id, NEW.order_no,
                         CASE WHEN NEW.status = 'shipped' THEN 'order.shipped' ELSE 'order.stage_changed' END,
                         jsonb_build_object('order_no', NEW.order_no, 'status', NEW.status,
                                            'status_before', OLD.status, 'tracking_no', NEW.tracking_no,
                                            'version', NEW.version));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_erp_event AFTER INSERT OR UPDATE OF status ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_erp_event();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
