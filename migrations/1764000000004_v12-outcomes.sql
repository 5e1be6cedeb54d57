-- Up Migration

-- SPEC.md v1.2: a signal that gives its position's value (`notional`) closes with `pnl` and
-- `fees` in quote currency; the return table adds the outcome ROI_EXIT and the leg reason ROI.
-- Both columns are NULL for outcomes without a notional (and for every row written before),
-- which is what the analyzer reads as "not in currency". Nullable columns without a default
-- are added in place on both paths, compressed hypertable chunks included.
ALTER TABLE signal_outcomes ADD COLUMN pnl double precision;
ALTER TABLE signal_outcomes ADD COLUMN fees double precision;

-- Wider lists. NOT VALID: the rows already there satisfy the narrower ones, and a
-- hypertable's compressed chunks need no rescan.
ALTER TABLE signal_outcomes DROP CONSTRAINT signal_outcomes_outcome_check;
ALTER TABLE signal_outcomes ADD CONSTRAINT signal_outcomes_outcome_check CHECK (outcome IN (
  'TP_HIT', 'SL_HIT', 'ROI_EXIT', 'TIME_EXIT', 'MANUAL_EXIT', 'EXPIRED', 'CANCELLED', 'INVALID_AT_FILL')) NOT VALID;
ALTER TABLE tp_sl_hits DROP CONSTRAINT tp_sl_hits_reason_check;
ALTER TABLE tp_sl_hits ADD CONSTRAINT tp_sl_hits_reason_check CHECK (
  reason IN ('TP', 'SL', 'ROI', 'TIME', 'MANUAL')) NOT VALID;

-- Down Migration

-- Rows with ROI_EXIT / ROI stay (outcomes are never rewritten); NOT VALID leaves them be.
ALTER TABLE tp_sl_hits DROP CONSTRAINT tp_sl_hits_reason_check;
ALTER TABLE tp_sl_hits ADD CONSTRAINT tp_sl_hits_reason_check CHECK (
  reason IN ('TP', 'SL', 'TIME', 'MANUAL')) NOT VALID;
ALTER TABLE signal_outcomes DROP CONSTRAINT signal_outcomes_outcome_check;
ALTER TABLE signal_outcomes ADD CONSTRAINT signal_outcomes_outcome_check CHECK (outcome IN (
  'TP_HIT', 'SL_HIT', 'TIME_EXIT', 'MANUAL_EXIT', 'EXPIRED', 'CANCELLED', 'INVALID_AT_FILL')) NOT VALID;
ALTER TABLE signal_outcomes DROP COLUMN IF EXISTS fees;
ALTER TABLE signal_outcomes DROP COLUMN IF EXISTS pnl;
