-- Up Migration

-- One audit event more: 'orphan_dropped', an outbox entry (a closed outcome or a live event) of
-- a signal that PostgreSQL does not know, dropped by the flusher after FLUSH_ORPHAN_GRACE_MS
-- with its content in `details` (docs/OPERATIONS.md "Flusher"). Only a registration put on a
-- shard queue by a foreign producer leaves such entries. NOT VALID, as before: the rows already
-- there satisfy the narrower list.
ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_event_check;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_event_check CHECK (event IN (
  'accepted', 'rejected', 'amended', 'cancelled', 'exited', 'closed', 'op_rejected', 'catchup_gap',
  'orphan_dropped')) NOT VALID;

-- Down Migration

-- Rows with the new event stay (audit_logs is append-only); NOT VALID leaves them be.
ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_event_check;
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_event_check CHECK (event IN (
  'accepted', 'rejected', 'amended', 'cancelled', 'exited', 'closed', 'op_rejected', 'catchup_gap')) NOT VALID;
