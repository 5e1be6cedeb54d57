-- Up Migration

-- A fourth scope, `metrics`, for the web process's `GET /metrics` (docs/API.md "Scopes"). The
-- Prometheus counters are process-wide totals over every tenant, so a tenant's `read` key no
-- longer reaches them: a scraper holds a key with this scope and nothing else.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (
  cardinality(scopes) > 0 AND scopes <@ ARRAY['submit', 'read', 'metrics', 'admin']::text[]
);

-- Down Migration

-- Fails while a key with the `metrics` scope exists: revoke and delete those first.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (
  cardinality(scopes) > 0 AND scopes <@ ARRAY['submit', 'read', 'admin']::text[]
);
