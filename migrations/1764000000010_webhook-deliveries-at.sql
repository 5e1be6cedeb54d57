-- Up Migration

-- Delivery attempts are pruned by age (WEBHOOK_DELIVERIES_RETENTION_DAYS, the scheduler's hourly
-- run): an index on their time, so that each run finds the old ones without reading the table.
CREATE INDEX IF NOT EXISTS webhook_deliveries_at_idx ON webhook_deliveries (at);

-- Down Migration

DROP INDEX IF EXISTS webhook_deliveries_at_idx;
