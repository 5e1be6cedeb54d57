-- Up Migration

-- The accepted payload as the engine evaluates it (defaults filled in, symbol upper-cased).
-- A repeated submission of an id forwards this stored form, never the new payload, so the
-- signal tracked is always the one first accepted.
ALTER TABLE signals ADD COLUMN normalized jsonb;
ALTER TABLE signals ADD CONSTRAINT signals_accepted_normalized
  CHECK (status <> 'accepted' OR normalized IS NOT NULL) NOT VALID;

-- Down Migration

ALTER TABLE signals DROP CONSTRAINT IF EXISTS signals_accepted_normalized;
ALTER TABLE signals DROP COLUMN IF EXISTS normalized;
