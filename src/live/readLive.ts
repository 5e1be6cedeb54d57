import type { RedisClient } from '../RedisClient.ts';
import type { OutcomeLine } from '../../machines/types.ts';
import { ShardKeys, shardOf } from '../names.ts';
import { readOutcomes } from './shardStore.ts';

/** Where {@link readLive} looks: the shards' Redis. */
export interface LiveSource {
  redis: RedisClient;
  /** QUEUE_PREFIX of the shards. */
  prefix: string;
  /** SHARDS: where each symbol's signals live. */
  shards: number;
}

/**
 * The Redis view of accepted signals (`id`, `symbol` as stored): a closed outcome still in its
 * shard's outbox, or an open signal's checkpoint brought up to its shard's last committed job,
 * as a worker restoring the shard would (shardStore's `readOutcomes`, shard by shard). Signals
 * in neither (not registered yet, or flushed to PostgreSQL) are absent. Used by `export` and
 * `GET /v1/signals/{id}`.
 */
export async function readLive(
  source: LiveSource,
  rows: readonly { id: string; symbol: string }[],
): Promise<Map<string, OutcomeLine>> {
  const lines = new Map<string, OutcomeLine>();
  const byShard = new Map<number, { id: string; symbol: string }[]>();
  for (const row of rows) {
    const shard = shardOf(row.symbol, source.shards);
    let list = byShard.get(shard);
    if (list === undefined) byShard.set(shard, (list = []));
    list.push(row);
  }
  for (const [shard, list] of byShard) {
    for (const [id, line] of await readOutcomes(source.redis, new ShardKeys(source.prefix, shard), list))
      lines.set(id, line);
  }
  return lines;
}
