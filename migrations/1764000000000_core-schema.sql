-- Up Migration

-- Core tables. They work on plain PostgreSQL; the next migration turns the
-- time-series ones into TimescaleDB hypertables when the extension is there.
-- docs/STORAGE.md describes every table and the reasons behind its keys.

-- Every track-signal payload the intake saw, accepted or rejected. Rejected
-- payloads may have no id, a malformed one or one that is already taken, so
-- the primary key is a surrogate and the upstream id is unique only among
-- accepted rows (the idempotency key of SPEC.md).
CREATE TABLE signals (
  seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id             text,
  status         text NOT NULL CHECK (status IN ('accepted', 'rejected')),
  tenant         text,
  symbol         text,
  side           text CHECK (side IN ('long', 'short')),
  strategy       text,
  model          text,
  model_version  text,
  timeframe      text,
  confidence     double precision,
  created_at     timestamptz,
  payload        jsonb NOT NULL,
  errors         jsonb,
  job_id         text,
  received_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT signals_accepted_complete CHECK (
    status <> 'accepted'
    OR (id IS NOT NULL AND tenant IS NOT NULL AND symbol IS NOT NULL AND side IS NOT NULL
        AND created_at IS NOT NULL AND errors IS NULL)
  ),
  CONSTRAINT signals_rejected_has_errors CHECK (status <> 'rejected' OR errors IS NOT NULL)
);
CREATE UNIQUE INDEX signals_accepted_id_key ON signals (id) WHERE status = 'accepted';
CREATE INDEX signals_tenant_created_idx ON signals (tenant, created_at DESC) WHERE status = 'accepted';
CREATE INDEX signals_rejected_received_idx ON signals (received_at DESC) WHERE status = 'rejected';
CREATE INDEX signals_rejected_id_idx ON signals (id) WHERE status = 'rejected';

-- One row per signal that ever closed: the flusher's idempotency ledger.
-- signal_outcomes may become a hypertable, whose unique keys must contain its
-- time column, so "at most one outcome per signal id" is enforced here, on a
-- plain table, instead. A flush inserts here first (ON CONFLICT DO NOTHING)
-- and writes the outcome, its legs and its audit row only for the ids it got
-- back, all in one transaction.
CREATE TABLE closed_signals (
  signal_id    text PRIMARY KEY,
  closed_at    timestamptz NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- Closed outcomes (SPEC.md "Outcome"). The grouping keys are copied from the
-- signal so that the analyzer and daily_outcomes need no join.
CREATE TABLE signal_outcomes (
  signal_id          text NOT NULL,
  closed_at          timestamptz NOT NULL,
  tenant             text NOT NULL,
  symbol             text NOT NULL,
  side               text NOT NULL CHECK (side IN ('long', 'short')),
  strategy           text,
  model              text,
  model_version      text,
  timeframe          text,
  confidence         double precision,
  signal_created_at  timestamptz,
  outcome            text NOT NULL CHECK (outcome IN (
                       'TP_HIT', 'SL_HIT', 'TIME_EXIT', 'MANUAL_EXIT', 'EXPIRED', 'CANCELLED', 'INVALID_AT_FILL')),
  partial            boolean NOT NULL DEFAULT false,
  fill_ts            timestamptz,
  fill_price         double precision,
  holding_ms         bigint,
  gross_return       double precision,
  net_return         double precision,
  r_multiple         double precision,
  mfe                double precision,
  mae                double precision,
  stale              boolean NOT NULL DEFAULT false,
  legs               jsonb NOT NULL DEFAULT '[]',
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  -- closed_at is part of the key because a hypertable's unique keys must
  -- include its time column; a signal's closedAt never changes, so
  -- (signal_id, closed_at) still names one outcome.
  PRIMARY KEY (signal_id, closed_at)
);
CREATE INDEX signal_outcomes_tenant_closed_idx ON signal_outcomes (tenant, closed_at DESC);
CREATE INDEX signal_outcomes_symbol_closed_idx ON signal_outcomes (symbol, closed_at DESC);
CREATE INDEX signal_outcomes_strategy_model_idx
  ON signal_outcomes (strategy, model, model_version, closed_at DESC);

-- One row per leg of a closed outcome (take-profit, stop, time or manual exit),
-- in fill order.
CREATE TABLE tp_sl_hits (
  signal_id      text NOT NULL,
  leg_index      smallint NOT NULL CHECK (leg_index >= 0),
  ts             timestamptz NOT NULL,
  reason         text NOT NULL CHECK (reason IN ('TP', 'SL', 'TIME', 'MANUAL')),
  level          smallint CHECK (level >= 1),
  stop_kind      text CHECK (stop_kind IN ('initial', 'breakeven', 'trailing', 'amended')),
  price          double precision NOT NULL,
  fraction       double precision NOT NULL CHECK (fraction > 0 AND fraction <= 1),
  tenant         text NOT NULL,
  symbol         text NOT NULL,
  side           text NOT NULL CHECK (side IN ('long', 'short')),
  strategy       text,
  model          text,
  model_version  text,
  CONSTRAINT tp_sl_hits_tp_has_level CHECK (reason <> 'TP' OR level IS NOT NULL),
  CONSTRAINT tp_sl_hits_sl_has_stop_kind CHECK (reason <> 'SL' OR stop_kind IS NOT NULL),
  PRIMARY KEY (signal_id, leg_index, ts)
);
CREATE INDEX tp_sl_hits_tenant_ts_idx ON tp_sl_hits (tenant, ts DESC);

-- Append-only history of everything that happened to a signal, including
-- operations (amend/cancel/exit) that were rejected: event 'op_rejected' with
-- the operation and its reasons in details. `at` is market time where the
-- event has one (createdAt, the operation's ts, closedAt), else receipt time.
CREATE TABLE audit_logs (
  id           bigint GENERATED ALWAYS AS IDENTITY,
  at           timestamptz NOT NULL,
  signal_id    text,
  tenant       text,
  event        text NOT NULL CHECK (event IN (
                 'accepted', 'rejected', 'amended', 'cancelled', 'closed', 'op_rejected')),
  details      jsonb NOT NULL DEFAULT '{}',
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, at)
);
CREATE INDEX audit_logs_signal_idx ON audit_logs (signal_id, at);
CREATE INDEX audit_logs_event_idx ON audit_logs (event, at DESC);

CREATE FUNCTION audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_logs is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;
-- Row triggers catch UPDATE and DELETE (TimescaleDB copies them to every
-- chunk); TRUNCATE needs a statement trigger. Retention (drop_chunks) and
-- compression do not go through these, which is what we want.
CREATE TRIGGER audit_logs_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
CREATE TRIGGER audit_logs_no_truncate
  BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();

-- Analyzer output: one row per (tenant, window, group). Re-analysing a window
-- upserts on the unique key instead of adding rows.
CREATE TABLE performance_metrics (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant         text NOT NULL,
  window_name    text NOT NULL,
  window_start   timestamptz NOT NULL,
  window_end     timestamptz NOT NULL,
  group_kind     text NOT NULL,
  group_key      text NOT NULL,
  group_values   jsonb NOT NULL DEFAULT '{}',
  sample_count   integer NOT NULL CHECK (sample_count >= 0),
  metrics        jsonb NOT NULL,
  computed_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (window_end > window_start),
  CONSTRAINT performance_metrics_window_group_key
    UNIQUE (tenant, window_name, window_end, group_kind, group_key)
);
CREATE INDEX performance_metrics_group_idx
  ON performance_metrics (tenant, group_kind, group_key, window_end DESC);

-- Insights raised by the analyzer's rules; dedup_key is unique per window so
-- re-running a window (or two schedulers racing) never repeats an insight.
CREATE TABLE performance_insights (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant          text NOT NULL,
  rule            text NOT NULL,
  severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  window_name     text NOT NULL,
  window_start    timestamptz NOT NULL,
  window_end      timestamptz NOT NULL,
  group_kind      text NOT NULL,
  group_key       text NOT NULL,
  group_values    jsonb NOT NULL DEFAULT '{}',
  evidence        jsonb NOT NULL,
  recommendation  text NOT NULL,
  dedup_key       text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (window_end > window_start),
  CONSTRAINT performance_insights_dedup_key
    UNIQUE (tenant, window_name, window_end, dedup_key)
);
CREATE INDEX performance_insights_tenant_created_idx ON performance_insights (tenant, created_at DESC);

-- Down Migration

DROP TABLE IF EXISTS performance_insights;
DROP TABLE IF EXISTS performance_metrics;
DROP TABLE IF EXISTS audit_logs;
DROP FUNCTION IF EXISTS audit_logs_append_only();
DROP TABLE IF EXISTS tp_sl_hits;
DROP TABLE IF EXISTS signal_outcomes;
DROP TABLE IF EXISTS closed_signals;
DROP TABLE IF EXISTS signals;
