-- Up Migration

-- TimescaleDB when the server has the extension, plain PostgreSQL otherwise.
-- The branch is taken here, in SQL, so that every way of applying these files
-- (node-pg-migrate against a server, or the PGlite test) takes the same one.
--
-- The setting outcome_tracker.timescaledb chooses: 'auto' (default: use the
-- extension if pg_available_extensions lists it), 'on' (require it) or 'off'
-- (plain PostgreSQL even when it is available). Set it per database with
--   ALTER DATABASE outcome_tracker SET outcome_tracker.timescaledb = 'off';
-- before migrating.
--
-- Both paths create the same relation daily_outcomes with the same columns:
-- a continuous aggregate (real-time, so it includes not-yet-materialised
-- rows) with TimescaleDB, a plain view without it.
DO $migration$
DECLARE
  wanted    text := lower(coalesce(nullif(current_setting('outcome_tracker.timescaledb', true), ''), 'auto'));
  available boolean;
  licensed  boolean;
BEGIN
  IF wanted NOT IN ('auto', 'on', 'off') THEN
    RAISE EXCEPTION 'outcome_tracker.timescaledb must be auto, on or off, not %', wanted;
  END IF;
  SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') INTO available;

  IF wanted = 'off' OR (wanted = 'auto' AND NOT available) THEN
    RAISE NOTICE 'outcome-tracker: TimescaleDB not used (setting %, extension available: %): plain tables, daily_outcomes is a view',
      wanted, available;
    licensed := false;
  ELSE
    IF NOT available THEN
      RAISE EXCEPTION 'outcome_tracker.timescaledb = on, but the timescaledb extension is not available on this server';
    END IF;
    BEGIN
      EXECUTE 'CREATE EXTENSION IF NOT EXISTS timescaledb';
    EXCEPTION WHEN OTHERS THEN
      RAISE EXCEPTION 'could not create the timescaledb extension: %', SQLERRM
        USING HINT = 'add timescaledb to shared_preload_libraries, or set outcome_tracker.timescaledb = ''off'' to use plain PostgreSQL';
    END;

    -- Chunks of 7 days: a week of outcomes is small, and the analyzer's windows
    -- (days to weeks) then touch few chunks.
    PERFORM create_hypertable('signal_outcomes', by_range('closed_at', INTERVAL '7 days'));
    PERFORM create_hypertable('tp_sl_hits', by_range('ts', INTERVAL '7 days'));
    PERFORM create_hypertable('audit_logs', by_range('at', INTERVAL '7 days'));

    -- Compression and continuous aggregates are Timescale-License features;
    -- an Apache-only build gets hypertables and the plain view.
    licensed := coalesce(current_setting('timescaledb.license', true), 'timescale') <> 'apache';
    IF NOT licensed THEN
      RAISE NOTICE 'outcome-tracker: TimescaleDB Apache build: hypertables without compression; daily_outcomes is a view';
    END IF;
  END IF;

  IF licensed THEN
    -- Outcomes and legs are never updated, so chunks older than a month can be
    -- compressed. segmentby tenant: the API and the analyzer read one tenant
    -- at a time; the orderby columns cover the unique keys, which keeps
    -- ON CONFLICT checks against compressed chunks cheap.
    EXECUTE $sql$ALTER TABLE signal_outcomes SET (
      timescaledb.compress,
      timescaledb.compress_segmentby = 'tenant',
      timescaledb.compress_orderby = 'closed_at DESC, signal_id')$sql$;
    EXECUTE $sql$ALTER TABLE tp_sl_hits SET (
      timescaledb.compress,
      timescaledb.compress_segmentby = 'tenant',
      timescaledb.compress_orderby = 'ts DESC, signal_id, leg_index')$sql$;
    EXECUTE $sql$ALTER TABLE audit_logs SET (
      timescaledb.compress,
      timescaledb.compress_orderby = 'at DESC, id')$sql$;
    PERFORM add_compression_policy('signal_outcomes', compress_after => INTERVAL '30 days');
    PERFORM add_compression_policy('tp_sl_hits', compress_after => INTERVAL '30 days');
    PERFORM add_compression_policy('audit_logs', compress_after => INTERVAL '30 days');

    EXECUTE $sql$
      CREATE MATERIALIZED VIEW daily_outcomes
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket(INTERVAL '1 day', closed_at) AS day,
             tenant, strategy, model, model_version, symbol,
             count(*) AS outcomes,
             count(net_return) AS filled,
             sum(CASE WHEN net_return > 0 THEN 1 ELSE 0 END) AS wins,
             sum(CASE WHEN net_return < 0 THEN 1 ELSE 0 END) AS losses,
             sum(CASE WHEN outcome = 'TP_HIT' THEN 1 ELSE 0 END) AS tp_hits,
             sum(CASE WHEN outcome = 'SL_HIT' THEN 1 ELSE 0 END) AS sl_hits,
             sum(gross_return) AS sum_gross_return,
             sum(net_return) AS sum_net_return,
             count(r_multiple) AS r_count,
             sum(r_multiple) AS sum_r_multiple,
             sum(holding_ms) AS sum_holding_ms
      FROM signal_outcomes
      GROUP BY time_bucket(INTERVAL '1 day', closed_at), tenant, strategy, model, model_version, symbol
      WITH NO DATA
    $sql$;
    -- Refresh the last 30 days every hour; the newest hour is served from the
    -- raw table (materialized_only = false). Outcomes that land more than 30
    -- days late need CALL refresh_continuous_aggregate by hand.
    PERFORM add_continuous_aggregate_policy('daily_outcomes',
      start_offset => INTERVAL '30 days',
      end_offset => INTERVAL '1 hour',
      schedule_interval => INTERVAL '1 hour');
  ELSE
    EXECUTE $sql$
      CREATE VIEW daily_outcomes AS
      SELECT date_trunc('day', closed_at, 'UTC') AS day,
             tenant, strategy, model, model_version, symbol,
             count(*) AS outcomes,
             count(net_return) AS filled,
             sum(CASE WHEN net_return > 0 THEN 1 ELSE 0 END) AS wins,
             sum(CASE WHEN net_return < 0 THEN 1 ELSE 0 END) AS losses,
             sum(CASE WHEN outcome = 'TP_HIT' THEN 1 ELSE 0 END) AS tp_hits,
             sum(CASE WHEN outcome = 'SL_HIT' THEN 1 ELSE 0 END) AS sl_hits,
             sum(gross_return) AS sum_gross_return,
             sum(net_return) AS sum_net_return,
             count(r_multiple) AS r_count,
             sum(r_multiple) AS sum_r_multiple,
             sum(holding_ms) AS sum_holding_ms
      FROM signal_outcomes
      GROUP BY date_trunc('day', closed_at, 'UTC'), tenant, strategy, model, model_version, symbol
    $sql$;
  END IF;
END
$migration$;

-- Retention is off by default (nothing is ever dropped). migrate({ retention })
-- calls this; NULL removes a policy. With TimescaleDB it schedules
-- drop_chunks for the hypertables; on plain PostgreSQL it only warns, since
-- deleting rows by hand would fight the append-only audit log.
CREATE FUNCTION outcome_tracker_set_retention(outcomes interval, audit interval) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t text;
  hypertables boolean := false;
BEGIN
  -- daily_outcomes re-materialises the last 30 days from the raw rows; dropping
  -- raw rows inside that window would erase them from the aggregate as well.
  IF outcomes IS NOT NULL AND outcomes <= INTERVAL '30 days' THEN
    RAISE EXCEPTION 'outcome retention must be longer than 30 days (the daily_outcomes refresh window), got %', outcomes;
  END IF;
  IF audit IS NOT NULL AND audit <= INTERVAL '0' THEN
    RAISE EXCEPTION 'audit retention must be positive, got %', audit;
  END IF;
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
    -- A separate statement: timescaledb_information exists only with the extension.
    SELECT count(*) = 3 INTO hypertables FROM timescaledb_information.hypertables
    WHERE hypertable_schema = current_schema()
      AND hypertable_name IN ('signal_outcomes', 'tp_sl_hits', 'audit_logs');
  END IF;
  IF NOT hypertables THEN
    IF outcomes IS NOT NULL OR audit IS NOT NULL THEN
      RAISE WARNING 'outcome-tracker: retention needs TimescaleDB hypertables; nothing is dropped on plain PostgreSQL';
    END IF;
    RETURN;
  END IF;
  FOREACH t IN ARRAY ARRAY['signal_outcomes', 'tp_sl_hits'] LOOP
    PERFORM remove_retention_policy(t::regclass, if_exists => true);
    IF outcomes IS NOT NULL THEN
      PERFORM add_retention_policy(t::regclass, drop_after => outcomes);
    END IF;
  END LOOP;
  PERFORM remove_retention_policy('audit_logs', if_exists => true);
  IF audit IS NOT NULL THEN
    PERFORM add_retention_policy('audit_logs', drop_after => audit);
  END IF;
END
$$;

-- Down Migration

-- Hypertables stay hypertables (TimescaleDB cannot turn them back); the
-- core migration's down drops them.
DROP FUNCTION IF EXISTS outcome_tracker_set_retention(interval, interval);
DO $migration$
DECLARE
  is_cagg boolean := false;
BEGIN
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
    EXECUTE $sql$SELECT EXISTS (SELECT FROM timescaledb_information.continuous_aggregates
                 WHERE view_schema = current_schema() AND view_name = 'daily_outcomes')$sql$ INTO is_cagg;
  END IF;
  IF is_cagg THEN
    EXECUTE 'DROP MATERIALIZED VIEW daily_outcomes';
  ELSE
    EXECUTE 'DROP VIEW IF EXISTS daily_outcomes';
  END IF;
END
$migration$;
