-- Up Migration

-- Webhooks of the HTTP API (docs/API.md "Webhooks"): a tenant's URL and the event types it
-- wants. The secret signs each delivery (HMAC-SHA256), so it is kept as given, not hashed; it is
-- shown once, when the webhook is created. Deleting sets deleted_at: deliveries already queued
-- then complete without being sent, and the attempts stay readable.
CREATE TABLE webhooks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant      text NOT NULL CHECK (tenant <> ''),
  url         text NOT NULL CHECK (url ~ '^https?://'),
  -- Empty: every event type.
  event_types text[] NOT NULL DEFAULT '{}',
  secret      text NOT NULL CHECK (length(secret) >= 16),
  created_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant) WHERE deleted_at IS NULL;

-- Every attempt of every delivery: its status code or error. One delivery (one event to one
-- webhook) has one delivery_id, the X-OT-Delivery header, and one row per attempt.
CREATE TABLE webhook_deliveries (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id   uuid NOT NULL REFERENCES webhooks (id),
  delivery_id  text NOT NULL,
  event_key    text NOT NULL,
  event_type   text NOT NULL,
  attempt      integer NOT NULL CHECK (attempt >= 1),
  at           timestamptz NOT NULL DEFAULT now(),
  status_code  integer,
  error        text,
  duration_ms  integer NOT NULL
);
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, id DESC);

-- Down Migration

DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhooks;
