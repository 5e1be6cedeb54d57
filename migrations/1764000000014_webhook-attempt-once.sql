-- Up Migration

-- Each attempt of a webhook delivery is recorded once (docs/STORAGE.md "webhook_deliveries").
-- Until now nothing kept an attempt from being recorded twice: an insert retried after its
-- connection dropped with the commit already through, and a delivery run again after its worker
-- stalled, which was numbered like the attempt before it (the worker now numbers attempts by
-- the times the delivery was started). Rows recorded twice before this migration keep their
-- first; the index then refuses a second, and the worker's insert skips it.
DELETE FROM webhook_deliveries d
 USING webhook_deliveries e
 WHERE e.delivery_id = d.delivery_id AND e.attempt = d.attempt AND e.id < d.id;
CREATE UNIQUE INDEX webhook_deliveries_attempt_key ON webhook_deliveries (delivery_id, attempt);

-- Down Migration

DROP INDEX IF EXISTS webhook_deliveries_attempt_key;
