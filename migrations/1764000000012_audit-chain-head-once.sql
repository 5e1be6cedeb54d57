-- Up Migration

-- The audit chain's head row written once a statement instead of once a row (docs/STORAGE.md
-- "Audit chain"). The trigger of …0008 read the tenant's audit_chain_heads row FOR UPDATE and
-- rewrote it for every audit row. Each rewrite inside one transaction leaves a row version that
-- cannot be pruned before COMMIT, and the next row's read walks past them all, so a transaction
-- of n rows for one tenant cost time in n²: about 50 µs a row at 64 rows, 310 µs at 16,384
-- (docs/BENCHMARKS.md "audit").
--
-- A tenant's first audit row in a transaction still takes its chain as before: the advisory
-- lock and the head row FOR UPDATE, both held to COMMIT (chain order is commit order, and under
-- REPEATABLE READ a head committed after the snapshot is a serialization failure, not a fork),
-- and it writes the head row. The rows after it in the same transaction continue from the row
-- before, which the row trigger keeps in a transaction-local setting (set_config(…, true): it
-- ends with the transaction, and a savepoint rolled back takes it back with its rows), and a
-- statement trigger writes the head row of each chain they moved once, when the statement ends.
-- The rows, their hashes and the head rows after each statement are what the trigger of …0008
-- gave.
--
-- A chain's setting, named outcome_tracker.audit_head_<md5(who)>, holds
-- "<head_seq> <head_hash> <head_at µs> <first_recorded_at µs> <who>", where <who> is 'n' for the
-- chain without tenant, else 't' and the tenant (it may hold spaces, so it comes last). The
-- chains moved since the last statement trigger are listed in outcome_tracker.audit_heads_moved.
-- A connection keeps an empty setting of each tenant it has written for, a few hundred bytes.

-- Epoch microseconds back to a timestamptz, exactly (the inverse of audit_chain_micros).
CREATE FUNCTION audit_chain_from_micros(micros bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT timestamptz 'epoch' + micros * interval '1 microsecond' $$;

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

-- The head rows of the chains a statement moved past a tenant's first row in its transaction.
-- One statement, not a loop: a function's expressions are prepared again in every transaction.
CREATE FUNCTION audit_logs_chain_heads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit_chain_heads AS h (tenant, head_seq, head_hash, head_at, first_recorded_at)
  SELECT CASE WHEN who = 'n' THEN NULL ELSE substr(who, 2) END, f[1]::bigint, f[2],
         audit_chain_from_micros(f[3]::bigint), audit_chain_from_micros(f[4]::bigint)
  FROM (SELECT string_to_array(running, ' ') AS f,
               substr(running, length(array_to_string((string_to_array(running, ' '))[1:4], ' ')) + 2) AS who
        FROM unnest(string_to_array(rtrim(current_setting('outcome_tracker.audit_heads_moved')), ' ')) AS m (name),
             current_setting(m.name) AS running) AS x
  ON CONFLICT ON CONSTRAINT audit_chain_heads_tenant_key DO UPDATE
    SET head_seq = excluded.head_seq, head_hash = excluded.head_hash, head_at = excluded.head_at,
        updated_at = now();
  PERFORM set_config('outcome_tracker.audit_heads_moved', '', true);
  RETURN NULL;
END
$$;

-- The WHEN is evaluated when the statement ends, without a call: most statements moved nothing.
CREATE TRIGGER audit_logs_chain_heads
  AFTER INSERT ON audit_logs
  FOR EACH STATEMENT
  WHEN (coalesce(current_setting('outcome_tracker.audit_heads_moved', true), '') <> '')
  EXECUTE FUNCTION audit_logs_chain_heads();

-- Down Migration

DROP TRIGGER IF EXISTS audit_logs_chain_heads ON audit_logs;
DROP FUNCTION IF EXISTS audit_logs_chain_heads();

-- The trigger of …0008: the head row read and rewritten for every row.
CREATE OR REPLACE FUNCTION audit_logs_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  head audit_chain_heads%ROWTYPE;
BEGIN
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
  NEW.chain_seq := head.head_seq + 1;
  NEW.prev_hash := head.head_hash;
  NEW.prev_at := head.head_at;
  NEW.row_hash := audit_chain_hash(NEW.prev_hash, audit_chain_text(NEW.chain_seq, NEW.id, NEW.at,
    NEW.recorded_at, NEW.tenant, NEW.signal_id, NEW.event, NEW.details, NEW.prev_at));
  INSERT INTO audit_chain_heads AS h (tenant, head_seq, head_hash, head_at, first_recorded_at)
  VALUES (NEW.tenant, NEW.chain_seq, NEW.row_hash, NEW.at, NEW.recorded_at)
  ON CONFLICT ON CONSTRAINT audit_chain_heads_tenant_key DO UPDATE
    SET head_seq = excluded.head_seq, head_hash = excluded.head_hash, head_at = excluded.head_at,
        updated_at = now();
  RETURN NEW;
END
$$;

DROP FUNCTION IF EXISTS audit_chain_from_micros(bigint);
