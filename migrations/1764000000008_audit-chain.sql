-- Up Migration

-- A tamper-evident audit log (docs/STORAGE.md "Audit chain"). Every audit_logs row carries its
-- position in its tenant's chain (chain_seq: 1, 2, 3… in commit order), the hash of the row
-- before it (prev_hash) and that row's `at` (prev_at), and its own hash:
--
--   row_hash = hex(sha256(prev_hash || canonical text of the row))
--
-- The canonical text is a jsonb array, whose text form does not depend on any session setting:
--   [chain_seq, id, at and recorded_at as epoch microseconds, tenant, signal_id, event,
--    details, prev_at as epoch microseconds]
-- `outcome-tracker verify-audit` selects the same expression and hashes it itself
-- (src/storage/pageAuditChain.ts), so it trusts no function stored in the database.
--
-- The hashes are set by a BEFORE INSERT trigger, whatever path inserts the row. It takes a
-- transaction-scoped advisory lock per tenant and the tenant's row in audit_chain_heads FOR
-- UPDATE; both are held to COMMIT, so a second transaction writing for the same tenant waits and
-- then reads the head the first one committed: chain order is commit order. Under REPEATABLE READ
-- or SERIALIZABLE the head row was updated after the waiting transaction's snapshot, and
-- PostgreSQL answers with a serialization failure (40001, retried like any other) instead of a
-- fork. Rows without a tenant (submissions rejected before a tenant was known) form one more
-- chain, of tenant NULL.

-- The genesis prev_hash of every chain.
CREATE FUNCTION audit_chain_genesis() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT repeat('0', 64) $$;

-- Epoch microseconds: exact, and the same text whatever DateStyle or TimeZone a session uses.
CREATE FUNCTION audit_chain_micros(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

CREATE FUNCTION audit_chain_text(
  chain_seq bigint, id bigint, at timestamptz, recorded_at timestamptz, tenant text,
  signal_id text, event text, details jsonb, prev_at timestamptz
) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_array(chain_seq, id, audit_chain_micros(at), audit_chain_micros(recorded_at),
    tenant, signal_id, event, details, audit_chain_micros(prev_at))::text
$$;

CREATE FUNCTION audit_chain_hash(prev_hash text, canonical text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT encode(sha256(convert_to(prev_hash || canonical, 'UTF8')), 'hex') $$;

-- The head of each tenant's chain. A small plain table: the trigger reads one row instead of
-- searching a hypertable for the newest hash, and verify-audit compares the chain's end with it
-- (rows removed at the end show here). first_recorded_at is when the chain began (the first day
-- of the tenant's regulatory reports).
CREATE TABLE audit_chain_heads (
  tenant             text,
  head_seq           bigint NOT NULL CHECK (head_seq >= 0),
  head_hash          text NOT NULL,
  head_at            timestamptz,
  first_recorded_at  timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT audit_chain_heads_tenant_key UNIQUE NULLS NOT DISTINCT (tenant)
);

-- One column per statement: TimescaleDB alters a hypertable's chunks one subcommand at a time.
ALTER TABLE audit_logs ADD COLUMN chain_seq bigint;
ALTER TABLE audit_logs ADD COLUMN prev_at timestamptz;
ALTER TABLE audit_logs ADD COLUMN prev_hash text;
ALTER TABLE audit_logs ADD COLUMN row_hash text;

CREATE FUNCTION audit_logs_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  head audit_chain_heads%ROWTYPE;
BEGIN
  -- Two int4 keys: a space of its own, apart from node-pg-migrate's bigint lock.
  PERFORM pg_advisory_xact_lock(1764000008, hashtext(coalesce(NEW.tenant, '')));
  IF NEW.tenant IS NULL THEN
    SELECT * INTO head FROM audit_chain_heads WHERE tenant IS NULL FOR UPDATE;
  ELSE
    SELECT * INTO head FROM audit_chain_heads WHERE tenant = NEW.tenant FOR UPDATE;
  END IF;
  IF NOT FOUND THEN
    head.head_seq := 0;
    head.head_hash := audit_chain_genesis();
    head.head_at := NULL;
  END IF;
  -- Whatever the INSERT said, the chain columns are ours.
  NEW.chain_seq := head.head_seq + 1;
  NEW.prev_hash := head.head_hash;
  NEW.prev_at := head.head_at;
  NEW.row_hash := audit_chain_hash(NEW.prev_hash, audit_chain_text(NEW.chain_seq, NEW.id, NEW.at,
    NEW.recorded_at, NEW.tenant, NEW.signal_id, NEW.event, NEW.details, NEW.prev_at));
  -- DO UPDATE (not DO NOTHING): under REPEATABLE READ a head row committed after our snapshot
  -- then raises a serialization failure rather than being skipped.
  INSERT INTO audit_chain_heads AS h (tenant, head_seq, head_hash, head_at, first_recorded_at)
  VALUES (NEW.tenant, NEW.chain_seq, NEW.row_hash, NEW.at, NEW.recorded_at)
  ON CONFLICT ON CONSTRAINT audit_chain_heads_tenant_key DO UPDATE
    SET head_seq = excluded.head_seq, head_hash = excluded.head_hash, head_at = excluded.head_at,
        updated_at = now();
  RETURN NEW;
END
$$;

-- A transaction that writes audit rows for several tenants (the flusher's batches) takes their
-- chains here first, all in one order, so that two such transactions wait for each other
-- instead of deadlocking (each row's trigger then finds its tenant's lock already held).
CREATE FUNCTION audit_chain_lock(tenants text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  k integer;
BEGIN
  FOR k IN SELECT DISTINCT hashtext(coalesce(t, '')) FROM unnest(tenants) AS t ORDER BY 1 LOOP
    PERFORM pg_advisory_xact_lock(1764000008, k);
  END LOOP;
END
$$;

-- Existing rows: chained per tenant in id order (the order they were inserted in, close to the
-- order they committed in), in one pass. The append-only trigger refuses this UPDATE, so its
-- function lets UPDATE through for the length of this migration's transaction only: nobody else
-- sees the relaxed function, and it is restored below before COMMIT.
CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN RETURN NEW; END IF;
  RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;

DO $chain$
DECLARE
  r record;
  cur_tenant text;
  first boolean := true;
  seq bigint;
  prev text;
  prev_ts timestamptz;
  started timestamptz;
  hash text;
BEGIN
  CREATE TEMPORARY TABLE audit_chain_backfill (
    id bigint, at timestamptz, chain_seq bigint, prev_at timestamptz, prev_hash text, row_hash text
  ) ON COMMIT DROP;
  FOR r IN SELECT id, at, recorded_at, tenant, signal_id, event, details
           FROM audit_logs ORDER BY tenant NULLS FIRST, id LOOP
    IF first OR r.tenant IS DISTINCT FROM cur_tenant THEN
      IF NOT first THEN
        INSERT INTO audit_chain_heads (tenant, head_seq, head_hash, head_at, first_recorded_at)
        VALUES (cur_tenant, seq, prev, prev_ts, started);
      END IF;
      first := false;
      cur_tenant := r.tenant;
      seq := 0;
      prev := audit_chain_genesis();
      prev_ts := NULL;
      started := r.recorded_at;
    END IF;
    seq := seq + 1;
    started := least(started, r.recorded_at);
    hash := audit_chain_hash(prev, audit_chain_text(seq, r.id, r.at, r.recorded_at, r.tenant,
      r.signal_id, r.event, r.details, prev_ts));
    INSERT INTO audit_chain_backfill VALUES (r.id, r.at, seq, prev_ts, prev, hash);
    prev := hash;
    prev_ts := r.at;
  END LOOP;
  IF NOT first THEN
    INSERT INTO audit_chain_heads (tenant, head_seq, head_hash, head_at, first_recorded_at)
    VALUES (cur_tenant, seq, prev, prev_ts, started);
  END IF;
  UPDATE audit_logs a
  SET chain_seq = b.chain_seq, prev_at = b.prev_at, prev_hash = b.prev_hash, row_hash = b.row_hash
  FROM audit_chain_backfill b
  WHERE a.id = b.id AND a.at = b.at;
END
$chain$;

CREATE OR REPLACE FUNCTION audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER audit_logs_chain
  BEFORE INSERT ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_chain();

-- verify-audit walks each chain in order, a page at a time; the daily report finds a day's head.
CREATE INDEX audit_logs_chain_idx ON audit_logs (tenant, chain_seq);

-- One row per tenant and UTC day (docs/STORAGE.md "regulatory_reports"), written by the
-- scheduler once the day is over; the primary key makes a rerun, or two schedulers at once,
-- write it once. Counts are of what the system recorded during the day (received_at,
-- recorded_at), so a report never changes once written.
CREATE TABLE regulatory_reports (
  tenant             text NOT NULL,
  day                date NOT NULL,
  signals_received   integer NOT NULL CHECK (signals_received >= 0),
  signals_accepted   integer NOT NULL CHECK (signals_accepted >= 0),
  signals_rejected   integer NOT NULL CHECK (signals_rejected >= 0),
  -- {"CODE": submissions rejected with that code}; a submission with several codes counts once
  -- under each.
  rejected_by_code   jsonb NOT NULL DEFAULT '{}',
  closed             integer NOT NULL CHECK (closed >= 0),
  -- {"TP_HIT": n, …}: outcomes recorded during the day, by outcome.
  closed_by_outcome  jsonb NOT NULL DEFAULT '{}',
  audit_rows         integer NOT NULL CHECK (audit_rows >= 0),
  -- The tenant's audit chain at the end of the day: the last row (in chain order) recorded
  -- before midnight UTC. NULL before the tenant's first audit row.
  audit_head_seq     bigint,
  audit_head_hash    text,
  generated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, day)
);
CREATE INDEX regulatory_reports_day_idx ON regulatory_reports (day);

-- Down Migration

DROP TABLE IF EXISTS regulatory_reports;
DROP INDEX IF EXISTS audit_logs_chain_idx;
DROP TRIGGER IF EXISTS audit_logs_chain ON audit_logs;
DROP FUNCTION IF EXISTS audit_logs_chain();
DROP FUNCTION IF EXISTS audit_chain_lock(text[]);
ALTER TABLE audit_logs DROP COLUMN IF EXISTS chain_seq;
ALTER TABLE audit_logs DROP COLUMN IF EXISTS prev_at;
ALTER TABLE audit_logs DROP COLUMN IF EXISTS prev_hash;
ALTER TABLE audit_logs DROP COLUMN IF EXISTS row_hash;
DROP TABLE IF EXISTS audit_chain_heads;
DROP FUNCTION IF EXISTS audit_chain_hash(text, text);
DROP FUNCTION IF EXISTS audit_chain_text(bigint, bigint, timestamptz, timestamptz, text, text, text, jsonb, timestamptz);
DROP FUNCTION IF EXISTS audit_chain_micros(timestamptz);
DROP FUNCTION IF EXISTS audit_chain_genesis();
