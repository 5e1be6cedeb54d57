-- Up Migration

-- When the intake handed an accepted signal to its shard. The intake commits the signal row
-- first and registers it on the shard after COMMIT (a registration before COMMIT could reach
-- the shard for a row that a dropped connection then never committed); this column records
-- that the registration was added. Until it is set, operations on the signal wait (they must
-- reach the shard queue behind the registration), and a retried intake job registers again
-- (the shard refuses the repeat). Rows accepted before this migration were registered before
-- their COMMIT: they count as forwarded.
ALTER TABLE signals ADD COLUMN forwarded_at timestamptz;
UPDATE signals SET forwarded_at = received_at WHERE status = 'accepted';

-- Down Migration

ALTER TABLE signals DROP COLUMN IF EXISTS forwarded_at;
