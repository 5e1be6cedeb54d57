-- Up Migration

-- The flusher's ledger for outbox entries that are not closed outcomes (operation results,
-- catch-up gaps). closed_signals is the ledger of outcomes; these entries have no signal-level
-- identity (a signal may see many operations), so each is recorded by its own key:
-- "<shard queue>|<outbox key>|<digest of the entry>". The flusher inserts here with
-- ON CONFLICT DO NOTHING and writes the audit row only for the keys it got back, in the same
-- transaction, so a batch replayed after a crash (committed, not yet removed from Redis) adds
-- no second audit row. The digest keeps the key unique even if a shard queue's job ids start
-- over (an obliterated queue). A plain table on both storage paths, never pruned
-- automatically; rows are tiny.
CREATE TABLE outbox_applied (
  key         text PRIMARY KEY,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Two audit events for what the shards report: 'exited' (an applied exit operation; its
-- 'closed' row carries the outcome) and 'catchup_gap' (a late signal whose earliest ticks
-- had already left the recent-tick buffer, docs/OPERATIONS.md). NOT VALID: the rows already
-- there satisfy the narrower list, and a hypertable's compressed chunks need no rescan.
ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_event_check;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_event_check CHECK (event IN (
  'accepted', 'rejected', 'amended', 'cancelled', 'exited', 'closed', 'op_rejected', 'catchup_gap')) NOT VALID;

-- Down Migration

-- Rows with the two new events stay (audit_logs is append-only); NOT VALID leaves them be.
ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_event_check;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_event_check CHECK (event IN (
  'accepted', 'rejected', 'amended', 'cancelled', 'closed', 'op_rejected')) NOT VALID;
DROP TABLE IF EXISTS outbox_applied;
