/** Filling Redis through the real code: ShardRuntime computes, commitShard writes. */
import type { Redis } from 'ioredis';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { appendTail } from '../../src/engine/ExtremaLog.ts';
import { ShardKeys, shardOf } from '../../src/names.ts';
import { toWire } from '../../src/live/messages.ts';
import { shardCodec } from '../../src/live/shardCodec.ts';
import { commitShard } from '../../src/live/shardStore.ts';
import type { ShardDelta } from '../../src/live/messages.ts';
import { emptyDelta, ShardRuntime } from '../../src/live/ShardRuntime.ts';
import type { Settings } from './settings.ts';
import { farSignals, SYMBOLS, type TickStreams } from './TickStreams.ts';

/** Folds a later job's delta into `into`, as committing both in order would leave Redis. */
function mergeDelta(into: ShardDelta, d: ShardDelta, bufferSize: number): void {
  for (const [id, r] of d.set) into.set.set(id, r);
  for (const id of d.del) {
    into.set.delete(id);
    into.del.add(id);
  }
  for (const [k, v] of d.ids) into.ids.set(k, v);
  for (const [k, v] of d.books) {
    // Each job's clock carries what its ticks changed of the extrema stacks: appended in order.
    const before = into.books.get(k);
    if (before === undefined) into.books.set(k, v);
    else
      into.books.set(k, {
        ...v,
        extrema: v.extrema.map((tail, s) => {
          const older = before.extrema[s];
          return tail === null || older === null || older === undefined ? tail : appendTail(older, tail);
        }),
      });
  }
  for (const [k, v] of d.seqs) into.seqs.set(k, v);
  for (const [k, v] of d.outbox) into.outbox.set(k, v);
  for (const [symbol, ticks] of d.recent) {
    let list = into.recent.get(symbol);
    if (list === undefined) into.recent.set(symbol, (list = []));
    for (const t of ticks) list.push(t);
    if (list.length > 2 * bufferSize) list.splice(0, list.length - bufferSize);
  }
  if (d.lastTickTs !== null) into.lastTickTs = Math.max(into.lastTickTs ?? -Infinity, d.lastTickTs);
}

/**
 * Writes a merged delta with commitShard in pieces small enough for one Lua call each; the
 * last piece leaves the progress marker at "0", so the queue's first job (id 1) comes next.
 * The recent ticks (millions for full buffers) are written directly, packed as commitShard
 * packs them (shardCodec), which is much faster than passing them through the checkpoint script.
 */
async function writeDelta(redis: Redis, keys: ShardKeys, d: ShardDelta, bufferSize: number): Promise<void> {
  if (bufferSize > 0) {
    for (const [symbol, list] of d.recent)
      await redis.set(keys.recentTicks(symbol), shardCodec.packTicks(list.slice(-bufferSize)));
  }
  const pieces: ShardDelta[] = [];
  const sets = [...d.set];
  const ids = [...d.ids];
  const PIECE = 10_000;
  for (let i = 0; i < Math.max(sets.length, ids.length); i += PIECE) {
    const p = emptyDelta();
    p.set = new Map(sets.slice(i, i + PIECE));
    p.ids = new Map(ids.slice(i, i + PIECE));
    pieces.push(p);
  }
  const last = emptyDelta();
  last.books = d.books;
  last.seqs = d.seqs;
  last.outbox = d.outbox;
  last.del = d.del;
  last.lastTickTs = d.lastTickTs;
  pieces.push(last);
  let marker: string | null = null;
  for (let k = 0; k < pieces.length; k++) {
    const id = k === pieces.length - 1 ? '0' : `seed-${k}`;
    if (!(await commitShard(redis, keys, marker, id, pieces[k]!, bufferSize, Date.now()))) {
      throw new Error(`seeding ${keys.signals}: checkpoint marker moved`);
    }
    marker = id;
  }
}

export interface Seeded {
  open: number;
  recordBytes: number;
  recentTicks: number;
  outbox: number;
  /** The stream position after the history. */
  next: number;
}

/**
 * Registers `signals` on their shards and applies `history` rounds of ticks (every symbol
 * once per round), in jobs of about `batch` ticks, then writes each shard's state.
 */
export async function seedShards(
  redis: Redis,
  prefix: string,
  shardCount: number,
  streams: TickStreams,
  signals: NormalizedSignal[],
  history: number,
  batch: number,
  bufferSize: number,
): Promise<Seeded> {
  const result: Seeded = { open: 0, recordBytes: 0, recentTicks: 0, outbox: 0, next: history * SYMBOLS };
  let sampled = 0;
  let sampledBytes = 0;
  for (let shard = 0; shard < shardCount; shard++) {
    const symbolsHere: number[] = [];
    for (let s = 0; s < SYMBOLS; s++)
      if (shardOf(streams.symbols[s]!, shardCount) === shard) symbolsHere.push(s);
    const mine = new Set(symbolsHere.map((s) => streams.symbols[s]!));
    const rt = new ShardRuntime(bufferSize);
    const merged = emptyDelta();
    for (const signal of signals) {
      if (mine.has(signal.symbol))
        mergeDelta(merged, rt.apply('seed', { kind: 'register', signal }, new Map()), bufferSize);
    }
    const rounds = Math.max(1, Math.floor(batch / Math.max(1, symbolsHere.length)));
    for (let j0 = 0; j0 < history; j0 += rounds) {
      const wire = [];
      for (let j = j0; j < Math.min(history, j0 + rounds); j++) {
        for (const s of symbolsHere) wire.push(toWire(streams.tick(j * SYMBOLS + s)));
      }
      mergeDelta(merged, rt.apply('seed', { kind: 'ticks', ticks: wire }, new Map()), bufferSize);
    }
    for (const r of merged.set.values()) {
      if (sampled++ >= 2000) break;
      sampledBytes += shardCodec.encodeRecord(r).length;
    }
    result.open += rt.openCount;
    result.outbox += merged.outbox.size;
    for (const list of merged.recent.values()) result.recentTicks += Math.min(list.length, bufferSize);
    await writeDelta(redis, new ShardKeys(prefix, shard), merged, bufferSize);
  }
  result.recordBytes = sampled === 0 ? 0 : sampledBytes / Math.min(sampled, 2000);
  return result;
}

/**
 * The pipeline benches' shards: `set.openSignals` open far signals (farSignals, ids tagged
 * `tag`) and `set.pipelineHistory` rounds of ticks, in jobs of `set.batch` ticks.
 */
export function seedPipeline(
  redis: Redis,
  prefix: string,
  set: Pick<Settings, 'shards' | 'openSignals' | 'pipelineHistory' | 'batch' | 'bufferSize'>,
  streams: TickStreams,
  tag = 'p',
): Promise<Seeded> {
  return seedShards(
    redis,
    prefix,
    set.shards,
    streams,
    farSignals(streams, set.openSignals, tag),
    set.pipelineHistory,
    set.batch,
    set.bufferSize,
  );
}
