import type { Redis } from 'ioredis';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { OutcomeLine } from '../../machines/types.ts';
import { SymbolBook, type BookClock } from '../engine/SymbolBook.ts';
import { OUTBOX_KEYS, ShardKeys, shardOf } from '../names.ts';
import type { OutboxEntry } from '../storage/OutboxEntry.ts';
import type { CheckpointRecord } from './messages.ts';

/** Where {@link readLive} looks: the shards' Redis. */
export interface LiveSource {
  redis: Redis;
  /** QUEUE_PREFIX of the shards. */
  prefix: string;
  /** SHARDS: where each symbol's signals live. */
  shards: number;
}

/**
 * The Redis view of accepted signals (`id`, `symbol` as stored): a closed outcome still in its
 * shard's outbox, or an open signal's checkpoint brought up to its shard's last committed job
 * (every tick of that job folded in, excursions included), as a worker restoring the shard
 * would. Signals in neither (not registered yet, or flushed to PostgreSQL) are absent. Used by
 * `export` and `GET /v1/signals/{id}`.
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
    const keys = new ShardKeys(source.prefix, shard);
    const ids = list.map((r) => r.id);
    const symbols = [...new Set(list.map((r) => r.symbol))];
    // One MULTI: a signal is in exactly one of checkpoints and outbox, and its checkpoint
    // matches its symbol's index state (they are committed together).
    const replies = await source.redis
      .multi()
      .hmget(keys.signals, ...ids)
      .hmget(keys.outbox, ...ids.map((id) => OUTBOX_KEYS.closed(id)))
      .hmget(keys.books, ...symbols)
      .exec();
    if (replies === null) throw new Error(`export: the Redis transaction on shard ${shard} was aborted`);
    for (const [err] of replies) if (err) throw err;
    const [records, outbox, books] = replies.map(([, value]) => value as (string | null)[]) as [
      (string | null)[],
      (string | null)[],
      (string | null)[],
    ];
    const clocks = new Map(symbols.map((s, i) => [s, books[i] ? (JSON.parse(books[i]) as BookClock) : null]));
    const open = new Map<string, SymbolBook>();
    ids.forEach((id, i) => {
      const closed = outbox[i];
      if (closed) {
        lines.set(id, (JSON.parse(closed) as Extract<OutboxEntry, { kind: 'closed' }>).outcome);
        return;
      }
      const json = records[i];
      if (!json) return;
      const record = JSON.parse(json) as CheckpointRecord;
      const symbol = record.context.symbol;
      let book = open.get(symbol);
      if (book === undefined) {
        book = new SymbolBook(symbol);
        const clock = clocks.get(symbol) ?? null;
        if (clock !== null) book.importClock(clock);
        open.set(symbol, book);
      }
      const slot = book.add(record.context, record.sync);
      lines.set(id, outcomeLine(book.current(slot)));
    });
  }
  return lines;
}
