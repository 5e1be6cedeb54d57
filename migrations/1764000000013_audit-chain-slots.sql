-- Up Migration

-- The audit chain's transaction-local settings in 256 slots instead of one a tenant (docs/STORAGE.md
-- "Audit chain"). …0012 kept a chain's running head in a setting named after the tenant, and a
-- PostgreSQL connection keeps every setting name it has seen until it closes. PostgreSQL 15
-- (Debian 12's) keeps them in one sorted array: each new name sorts the whole array again, and
-- every transaction that sets one walks all of them at its end. A connection that had written
-- audit rows for 1,000 tenants spent 0.35 ms of CPU on each new tenant's first row, 2 ms after
-- 5,000 and 14 ms after 20,000; a single-row transaction cost 75 µs more after 20,000
-- (docs/BENCHMARKS.md "audit"). PostgreSQL 16 and later keep a hash table instead.
--
-- A chain's setting is now one of outcome_tracker.audit_head_000 … _255: of the eight from
-- hashtext(<who>) & 255 on, the first that holds it or is empty (open addressing). Its value is
-- as before and ends with <who>, so the trigger tells whose chain a slot holds. A row that finds
-- its chain continues from it, as before; one that finds an empty slot takes its chain as a first
-- row does (the advisory lock and the head row FOR UPDATE, both re-entrant, and the head row
-- written at once). When all eight hold other chains, the last one's chain gives its slot up,
-- its head row written first if it was waiting for the statement trigger; that chain stays
-- taken to COMMIT, and its next row reads what was just written. Rows, hashes and head rows
-- after each statement are unchanged. A transaction of many tenants whose rows interleave (the
-- flusher's, in market-time order) meets that only past about two hundred tenants, where most
-- rows are a tenant's first anyway.

CREATE OR REPLACE FUNCTION audit_logs_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  who text := CASE WHEN NEW.tenant IS NULL THEN 'n' ELSE 't' || NEW.tenant END;
  home int := hashtext(who) & 255;
  name text;
  running text;
  f text[];
  held text;
  mine boolean := false;
  moved text := coalesce(current_setting('outcome_tracker.audit_heads_moved', true), '');
  head audit_chain_heads%ROWTYPE;
BEGIN
  -- The chain's setting: of the eight slots from its home on, the first that holds it or is
  -- empty. Slots fill in that order and are never emptied within a transaction (a savepoint
  -- rolled back empties only what was filled after it), so a chain is never past an empty slot.
  FOR i IN 0..7 LOOP
    name := 'outcome_tracker.audit_head_' || lpad(((home + i) & 255)::text, 3, '0');
    running := current_setting(name, true);
    EXIT WHEN coalesce(running, '') = '';
    IF right(running, length(who) + 1) = ' ' || who THEN -- then whose it is, exactly
      f := string_to_array(running, ' ');
      held := substr(running, length(f[1]) + length(f[2]) + length(f[3]) + length(f[4]) + 5);
      mine := held = who;
      EXIT WHEN mine;
    END IF;
  END LOOP;
  IF NOT mine AND coalesce(running, '') <> '' THEN
    -- Eight other chains hold them: the last one's slot changes hands. If its head is not
    -- written yet, write it now. That chain stays taken (its lock is held to COMMIT), so its
    -- next row, finding itself in no slot, reads this head row.
    IF strpos(moved, name) > 0 THEN
      f := string_to_array(running, ' ');
      held := substr(running, length(f[1]) + length(f[2]) + length(f[3]) + length(f[4]) + 5);
      INSERT INTO audit_chain_heads AS h (tenant, head_seq, head_hash, head_at, first_recorded_at)
      VALUES (CASE WHEN held = 'n' THEN NULL ELSE substr(held, 2) END, f[1]::bigint, f[2],
              audit_chain_from_micros(f[3]::bigint), audit_chain_from_micros(f[4]::bigint))
      ON CONFLICT ON CONSTRAINT audit_chain_heads_tenant_key DO UPDATE
        SET head_seq = excluded.head_seq, head_hash = excluded.head_hash, head_at = excluded.head_at,
            updated_at = now();
      moved := replace(moved, name || ' ', '');
      PERFORM set_config('outcome_tracker.audit_heads_moved', moved, true);
    END IF;
  END IF;
  IF NOT mine THEN
    -- The chain's first row in this transaction, or its first since another chain took its
    -- slot: take the chain (again: both are re-entrant) and read its head row.
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
      head.first_recorded_at := NEW.recorded_at;
    END IF;
  ELSE
    head.head_seq := f[1]::bigint;
    head.head_hash := f[2];
    head.head_at := audit_chain_from_micros(f[3]::bigint);
    head.first_recorded_at := audit_chain_from_micros(f[4]::bigint);
  END IF;
  -- Whatever the INSERT said, the chain columns are ours.
  NEW.chain_seq := head.head_seq + 1;
  NEW.prev_hash := head.head_hash;
  NEW.prev_at := head.head_at;
  NEW.row_hash := audit_chain_hash(NEW.prev_hash, audit_chain_text(NEW.chain_seq, NEW.id, NEW.at,
    NEW.recorded_at, NEW.tenant, NEW.signal_id, NEW.event, NEW.details, NEW.prev_at));
  PERFORM set_config(name, NEW.chain_seq || ' ' || NEW.row_hash || ' ' || audit_chain_micros(NEW.at)
    || ' ' || audit_chain_micros(head.first_recorded_at) || ' ' || who, true);
  IF NOT mine THEN
    -- The head row now: a statement of one row (most of them) needs nothing more.
    INSERT INTO audit_chain_heads AS h (tenant, head_seq, head_hash, head_at, first_recorded_at)
    VALUES (NEW.tenant, NEW.chain_seq, NEW.row_hash, NEW.at, head.first_recorded_at)
    ON CONFLICT ON CONSTRAINT audit_chain_heads_tenant_key DO UPDATE
      SET head_seq = excluded.head_seq, head_hash = excluded.head_hash, head_at = excluded.head_at,
          updated_at = now();
  ELSIF strpos(moved, name) = 0 THEN
    -- Later rows: the statement trigger writes the head row once, when the statement ends.
    PERFORM set_config('outcome_tracker.audit_heads_moved', moved || name || ' ', true);
  END IF;
  RETURN NEW;
END
$$;

-- Down Migration

-- The settings one a tenant again (…0012).
CREATE OR REPLACE FUNCTION audit_logs_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  who text := CASE WHEN NEW.tenant IS NULL THEN 'n' ELSE 't' || NEW.tenant END;
  name text := 'outcome_tracker.audit_head_' || md5(who);
  running text := current_setting(name, true);
  moved text;
  head audit_chain_heads%ROWTYPE;
BEGIN
  IF coalesce(running, '') = '' THEN
    -- The tenant's first row in this transaction: take its chain until COMMIT. Two int4 keys:
    -- a space of its own, apart from node-pg-migrate's bigint lock.
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
      head.first_recorded_at := NEW.recorded_at;
    END IF;
  ELSE
    head.head_seq := split_part(running, ' ', 1)::bigint;
    head.head_hash := split_part(running, ' ', 2);
    head.head_at := audit_chain_from_micros(split_part(running, ' ', 3)::bigint);
    head.first_recorded_at := audit_chain_from_micros(split_part(running, ' ', 4)::bigint);
  END IF;
  -- Whatever the INSERT said, the chain columns are ours.
  NEW.chain_seq := head.head_seq + 1;
  NEW.prev_hash := head.head_hash;
  NEW.prev_at := head.head_at;
  NEW.row_hash := audit_chain_hash(NEW.prev_hash, audit_chain_text(NEW.chain_seq, NEW.id, NEW.at,
    NEW.recorded_at, NEW.tenant, NEW.signal_id, NEW.event, NEW.details, NEW.prev_at));
  PERFORM set_config(name, NEW.chain_seq || ' ' || NEW.row_hash || ' ' || audit_chain_micros(NEW.at)
    || ' ' || audit_chain_micros(head.first_recorded_at) || ' ' || who, true);
  IF coalesce(running, '') = '' THEN
    -- The head row now, as before: a statement of one row (most of them) needs nothing more.
    -- DO UPDATE (not DO NOTHING): under REPEATABLE READ a head row committed after our snapshot
    -- then raises a serialization failure rather than being skipped.
    INSERT INTO audit_chain_heads AS h (tenant, head_seq, head_hash, head_at, first_recorded_at)
    VALUES (NEW.tenant, NEW.chain_seq, NEW.row_hash, NEW.at, head.first_recorded_at)
    ON CONFLICT ON CONSTRAINT audit_chain_heads_tenant_key DO UPDATE
      SET head_seq = excluded.head_seq, head_hash = excluded.head_hash, head_at = excluded.head_at,
          updated_at = now();
  ELSE
    -- Later rows: the statement trigger writes the head row once, when the statement ends.
    moved := coalesce(current_setting('outcome_tracker.audit_heads_moved', true), '');
    IF strpos(moved, name) = 0 THEN
      PERFORM set_config('outcome_tracker.audit_heads_moved', moved || name || ' ', true);
    END IF;
  END IF;
  RETURN NEW;
END
$$;
