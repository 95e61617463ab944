"""The audit chain's hash algorithm: SHA-256 by default, SM3 (国密, GB/T 32905) selectable; each record names its own.

Revision ID: 0022
Revises: 0020

``audit_settings`` (one row) says which algorithm new records use; the chain trigger stamps it
into ``audit_log.hash_alg`` and hashes with it, so a chain may switch algorithm at any record and
``orderhub audit verify`` checks each record with the algorithm it names. PostgreSQL has no SM3
(and the embedded server has no pgcrypto), so ``audit_sm3`` implements GB/T 32905-2016 in
PL/pgSQL; tests/db/test_audit_chain_drills.py checks it against the standard's test vectors and
against OpenSSL's implementation.
"""

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: Union[str, Sequence[str], None] = "0020"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SM3_SQL = """
CREATE FUNCTION audit_rotl(x bigint, n int) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT ((x << n) | (x >> (32 - n))) & 4294967295
$$;

CREATE FUNCTION audit_sm3(msg bytea) RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    mask constant bigint := 4294967295;
    len_bits bigint := length(msg)::bigint * 8;
    padded bytea;
    v bigint[] := ARRAY[1937774191, 1226093241, 388252375, 3666478592, 2842636476, 372324522, 3817729613, 2969243214];
    w bigint[] := array_fill(0::bigint, ARRAY[68]);
    a bigint; b bigint; c bigint; d bigint; e bigint; f bigint; g bigint; h bigint;
    ss1 bigint; ss2 bigint; tt1 bigint; tt2 bigint; x bigint; t bigint;
    blk int; j int; o int;
    result text := '';
BEGIN
    padded := msg || '\\x80'::bytea;
    padded := padded || decode(repeat('00', ((55 - length(msg)) % 64 + 64) % 64), 'hex');
    padded := padded || decode(lpad(to_hex(len_bits), 16, '0'), 'hex');
    FOR blk IN 0 .. length(padded) / 64 - 1 LOOP
        o := blk * 64;
        FOR j IN 0 .. 15 LOOP
            w[j + 1] := (get_byte(padded, o + 4 * j)::bigint << 24) | (get_byte(padded, o + 4 * j + 1)::bigint << 16)
                        | (get_byte(padded, o + 4 * j + 2)::bigint << 8) | get_byte(padded, o + 4 * j + 3)::bigint;
        END LOOP;
        FOR j IN 16 .. 67 LOOP
            x := w[j - 15] # w[j - 8] # audit_rotl(w[j - 2], 15);
            w[j + 1] := (x # audit_rotl(x, 15) # audit_rotl(x, 23)) # audit_rotl(w[j - 12], 7) # w[j - 5];
        END LOOP;
        a := v[1]; b := v[2]; c := v[3]; d := v[4]; e := v[5]; f := v[6]; g := v[7]; h := v[8];
        FOR j IN 0 .. 63 LOOP
            t := CASE WHEN j < 16 THEN 2043430169 ELSE 2055708042 END;
            ss1 := audit_rotl((audit_rotl(a, 12) + e + audit_rotl(t, j % 32)) & mask, 7);
            ss2 := ss1 # audit_rotl(a, 12);
            IF j < 16 THEN
                tt1 := ((a # b # c) + d + ss2 + (w[j + 1] # w[j + 5])) & mask;
                tt2 := ((e # f # g) + h + ss1 + w[j + 1]) & mask;
            ELSE
                tt1 := (((a & b) | (a & c) | (b & c)) + d + ss2 + (w[j + 1] # w[j + 5])) & mask;
                tt2 := (((e & f) | ((~e) & g)) + h + ss1 + w[j + 1]) & mask;
            END IF;
            d := c; c := audit_rotl(b, 9); b := a; a := tt1;
            h := g; g := audit_rotl(f, 19); f := e; e := tt2 # audit_rotl(tt2, 9) # audit_rotl(tt2, 17);
        END LOOP;
        v := ARRAY[v[1] # a, v[2] # b, v[3] # c, v[4] # d, v[5] # e, v[6] # f, v[7] # g, v[8] # h];
    END LOOP;
    FOR j IN 1 .. 8 LOOP
        result := result || lpad(to_hex(v[j]), 8, '0');
    END LOOP;
    RETURN result;
END $$;
"""

CHAIN_SQL = """
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_hash text;
    canonical bytea;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit records must be written in READ COMMITTED transactions'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM pg_advisory_xact_lock(7428002);
    NEW.id := nextval('audit_log_id_seq');
    NEW.occurred_at := clock_timestamp();
    NEW.hash_alg := coalesce((SELECT hash_alg FROM audit_settings WHERE id = 1), 'sha256');
    SELECT hash INTO last_hash FROM audit_log ORDER BY id DESC LIMIT 1;
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    canonical := convert_to(concat_ws('|',
        audit_part(NEW.id::text),
        audit_part(to_char(NEW.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
        audit_part(NEW.operator),
        audit_part(host(NEW.station_ip)),
        audit_part(NEW.station),
        audit_part(NEW.action),
        audit_part(NEW.entity_type),
        audit_part(NEW.entity_id),
        audit_part(NEW.basis),
        audit_part(NEW.before::text),
        audit_part(NEW.after::text),
        audit_part(NEW.prev_hash)), 'UTF8');
    NEW.hash := CASE NEW.hash_alg WHEN 'sm3' THEN audit_sm3(canonical) ELSE encode(sha256(canonical), 'hex') END;
    RETURN NEW;
END $$;
"""

OLD_CHAIN_SQL = CHAIN_SQL.replace(
    "    NEW.hash_alg := coalesce((SELECT hash_alg FROM audit_settings WHERE id = 1), 'sha256');\n", "").replace(
    "CASE NEW.hash_alg WHEN 'sm3' THEN audit_sm3(canonical) ELSE encode(sha256(canonical), 'hex') END",
    "encode(sha256(canonical), 'hex')")


def upgrade() -> None:
    op.create_table(
        "audit_settings",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("hash_alg", sa.String(8), server_default=sa.text("'sha256'"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_settings_one_row")),
        sa.CheckConstraint("hash_alg IN ('sha256', 'sm3')", name=op.f("ck_audit_settings_hash_alg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_settings")),
    )
    op.execute("INSERT INTO audit_settings (id) VALUES (1)")
    op.add_column("audit_log", sa.Column("hash_alg", sa.String(8), server_default=sa.text("'sha256'"), nullable=False))
    op.execute(SM3_SQL)
    op.execute(CHAIN_SQL)


def downgrade() -> None:
    op.execute(OLD_CHAIN_SQL)
    op.execute("DROP FUNCTION audit_sm3(bytea)")
    op.execute("DROP FUNCTION audit_rotl(bigint, int)")
    op.drop_column("audit_log", "hash_alg")
    op.drop_table("audit_settings")
