-- Up Migration

-- API keys of the HTTP API (docs/API.md). Only a key's SHA-256 is stored: the key itself is
-- shown once, when it is created, and cannot be recovered from the table. A key carries one
-- tenant and its scopes; revoking sets revoked_at (the row stays, for the audit trail and
-- so that `api-key list` still shows what the key was).
CREATE TABLE api_keys (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant        text NOT NULL CHECK (tenant <> ''),
  scopes        text[] NOT NULL CHECK (
    cardinality(scopes) > 0 AND scopes <@ ARRAY['submit', 'read', 'admin']::text[]
  ),
  hash          bytea NOT NULL CHECK (octet_length(hash) = 32),
  label         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);
-- Every request looks its key up by hash.
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant, created_at);

-- Down Migration

DROP TABLE IF EXISTS api_keys;
