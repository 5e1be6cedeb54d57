import type { RedisClient } from '../RedisClient.ts';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { OutcomeLine, Tick } from '../../machines/types.ts';
import { advanceClock, type BookClock, type DeferredSignal } from '../engine/SymbolBook.ts';
import {
  isBullmqJobId,
  isForwardedOpJobId,
  OUTBOX_KEYS,
  SIGNAL_BUCKETS,
  signalBucketOf,
  type ShardKeys,
} from '../names.ts';
import type { CheckpointRecord, ShardDelta } from './messages.ts';
import { RECENT_TICK_BYTES, shardCodec, type StackRef } from './shardCodec.ts';
import { APPLIED_CUSTOM_KEPT, CLOCK_EVERY_MAX, ShardRuntime, type KnownIds } from './ShardRuntime.ts';

/**
 * A shard's state in Redis: the reads and the atomic commit. What the values mean, and how
 * they are written, is `shardCodec`'s (one format for every reader).
 */

/**
 * Commits a job's delta and the shard's progress marker in one atomic step, only if the
 * marker still names the job this process applied last (compare-and-set): a worker that lost
 * its shard to another (a long pause, a stall) cannot overwrite the newer state. A Lua script
 * rather than MULTI because the check and the writes must be one step and WATCH is
 * per-connection. Every key carries the shard's hash tag, so it is single-slot on Redis Cluster.
 *
 * KEYS: progress, signals (the hash of records written before the buckets), ids, books, outbox,
 * clock, applied-auto, applied-custom or applied-ops (whichever keeps the job's kind of custom
 * id), book-seqs, then per symbol its recent-ticks string and the previous version's
 * recent-ticks list, then one extrema-stack string per stack write, then the signal buckets the
 * delta writes or deletes in (`CheckpointPayload.buckets`, in that order).
 * ARGV: expected marker ('' for none), new marker, the delta (`CheckpointPayload` JSON), buffer size,
 * wall ms, custom ids kept, '1' when the new marker is one of BullMQ's own job ids
 * ({@link isBullmqJobId}) else '0', the number of recent-ticks symbols, then per symbol its new
 * ticks packed (`shardCodec.packTicks`), then per stack write its byte offset and packed entries.
 *
 * A book's extrema stacks are written as their tails: the entries from the first one a job
 * changed, over the string at that offset (SETRANGE); the clock in the books hash, written in
 * the same step, says how many entries count. So a job's checkpoint costs what its ticks
 * changed, not the size of the stacks. And a symbol's clock and stacks are written only every
 * so many of its ticks (SymbolBook.clockDue); every job writes the symbol's tick count to the
 * book-seqs hash, and readers bring the clock forward over the ticks since it, the last ones of
 * the recent-ticks string (docs/STORAGE.md "Redis: a shard's index clocks and extrema stacks").
 *
 * A symbol's recent ticks grow by one APPEND per job; the string is cut back to its last
 * buffer-size ticks only when it passes twice that, so trimming costs a copy every buffer-size
 * ticks rather than work on every job (readers take the last buffer-size ticks). A list left by
 * the previous version (JSON wire ticks, all older than the string's) is read in front of the
 * string until the string alone holds a whole buffer, and deleted then. Not converted here:
 * decoding a full list in Lua takes about 47 ms a symbol, so the first job after an upgrade
 * would hold Redis for seconds (docs/STORAGE.md "Redis: a shard's recent ticks").
 */
const CHECKPOINT_LUA = `
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
local d = cjson.decode(ARGV[3])
local function hsetPairs(key, pairs)
  local args = {}
  for i = 1, #pairs do
    args[#args + 1] = pairs[i][1]
    args[#args + 1] = pairs[i][2]
    if #args >= 1000 then redis.call('HSET', key, unpack(args)); args = {} end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end
local nb = #d.buckets
local inBucket = {}
for j = 1, nb do inBucket[d.buckets[j]] = { set = {}, del = {} } end
for i = 1, #d.set do
  local args = inBucket[d.set[i][3]].set
  args[#args + 1] = d.set[i][1]
  args[#args + 1] = d.set[i][2]
end
for i = 1, #d.del do
  local ids = inBucket[d.del[i][2]].del
  ids[#ids + 1] = d.del[i][1]
end
for j = 1, nb do
  local key, w = KEYS[#KEYS - nb + j], inBucket[d.buckets[j]]
  for i = 1, #w.set, 1000 do redis.call('HSET', key, unpack(w.set, i, math.min(i + 999, #w.set))) end
  for i = 1, #w.del, 500 do redis.call('HDEL', key, unpack(w.del, i, math.min(i + 499, #w.del))) end
end
-- A record still in the hash of before the buckets goes from it when written or deleted.
if redis.call('EXISTS', KEYS[2]) == 1 then
  local ids = {}
  for i = 1, #d.set do ids[#ids + 1] = d.set[i][1] end
  for i = 1, #d.del do ids[#ids + 1] = d.del[i][1] end
  for i = 1, #ids, 500 do redis.call('HDEL', KEYS[2], unpack(ids, i, math.min(i + 499, #ids))) end
end
hsetPairs(KEYS[3], d.ids)
for i = 1, #d.forget do
  if redis.call('HGET', KEYS[3], d.forget[i]) == 'closed' then redis.call('HDEL', KEYS[3], d.forget[i]) end
end
hsetPairs(KEYS[4], d.books)
hsetPairs(KEYS[9], d.seqs)
hsetPairs(KEYS[5], d.outbox)
local size = tonumber(ARGV[4])
local recent = tonumber(ARGV[8])
if size > 0 then
  local keep = size * ${RECENT_TICK_BYTES}
  for r = 1, recent do
    local key, added = KEYS[8 + 2 * r], ARGV[8 + r]
    local len = redis.call('APPEND', key, added)
    if len >= keep and len - #added < keep then redis.call('UNLINK', KEYS[9 + 2 * r]) end
    if len > 2 * keep then redis.call('SET', key, redis.call('GETRANGE', key, -keep, -1)) end
  end
end
for w = 1, #KEYS - 9 - 2 * recent - nb do
  redis.call('SETRANGE', KEYS[9 + 2 * recent + w], tonumber(ARGV[7 + recent + 2 * w]), ARGV[8 + recent + 2 * w])
end
if d.clock ~= cjson.null then
  redis.call('SET', KEYS[6], cjson.encode({ tickTs = d.clock, wallMs = tonumber(ARGV[5]) }))
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[7] == '1' then
  redis.call('SET', KEYS[7], ARGV[2])
else
  redis.call('RPUSH', KEYS[8], ARGV[2])
  redis.call('LTRIM', KEYS[8], -tonumber(ARGV[6]), -1)
end
return 1
`;

type RedisWithCheckpoint = RedisClient & {
  otCheckpoint(numKeys: number, ...args: (string | number | Buffer)[]): Promise<number>;
};

function withCheckpoint(redis: RedisClient): RedisWithCheckpoint {
  const r = redis as RedisWithCheckpoint;
  if (typeof r.otCheckpoint !== 'function') redis.defineCommand('otCheckpoint', { lua: CHECKPOINT_LUA });
  return r;
}

/** Writes a job's effects; false when another process moved the shard on meanwhile. */
export async function commitShard(
  redis: RedisClient,
  keys: ShardKeys,
  expected: string | null,
  jobId: string,
  delta: ShardDelta,
  bufferSize: number,
  wallMs: number,
): Promise<boolean> {
  const encoded = shardCodec.encodeDelta(delta, wallMs);
  // With no buffer nothing is kept: the ticks need not travel.
  const symbols = bufferSize > 0 ? encoded.symbols : [];
  const recentKeys: string[] = [];
  for (const s of symbols) recentKeys.push(keys.recentTicks(s), keys.recentList(s));
  const stackKeys = encoded.stacks.map((w) => keys.extremaStack(w.symbol, w.series, w.kind));
  const stackArgs = encoded.stacks.flatMap((w) => [w.offset, w.bytes]);
  const result = await withCheckpoint(redis).otCheckpoint(
    9 + recentKeys.length + stackKeys.length + encoded.payload.buckets.length,
    keys.progress,
    keys.signals,
    keys.ids,
    keys.books,
    keys.outbox,
    keys.clock,
    keys.appliedAuto,
    isForwardedOpJobId(jobId) ? keys.appliedOps : keys.appliedCustom,
    keys.bookSeqs,
    ...recentKeys,
    ...stackKeys,
    ...encoded.payload.buckets.map((b) => keys.signalBucket(b)),
    expected ?? '',
    jobId,
    // cjson turns an empty Lua table into {}, and an empty JSON array into a table: both fine.
    JSON.stringify(encoded.payload),
    bufferSize,
    wallMs,
    APPLIED_CUSTOM_KEPT,
    isBullmqJobId(jobId) ? '1' : '0',
    symbols.length,
    ...(bufferSize > 0 ? encoded.recent : []),
    ...stackArgs,
  );
  return result === 1;
}

/**
 * How many ticks of `symbol` this shard has applied (its book-seqs entry, or its clock's count
 * when written before book-seqs existed); null when none.
 */
export async function appliedTickCount(
  redis: RedisClient,
  keys: ShardKeys,
  symbol: string,
): Promise<number | null> {
  const [seq, clock] = await Promise.all([redis.hget(keys.bookSeqs, symbol), redis.hget(keys.books, symbol)]);
  if (seq !== null) return Number(seq);
  return clock === null ? null : shardCodec.clockSeq(clock);
}

/**
 * A stored clock brought forward to its symbol's tick count in book-seqs (`seq`, absent for a
 * clock written before book-seqs) over the last of `recent`, the symbol's recent ticks as read:
 * a string shorter than the clock is behind throws (a read torn by a commit, retried).
 */
export function clockAt(
  symbol: string,
  stored: BookClock,
  seq: string | null | undefined,
  recent: readonly Tick[],
): BookClock {
  const behind = Number(seq ?? 0) - stored.seq;
  if (behind <= 0) return stored;
  if (recent.length < behind)
    throw new Error(
      `${symbol}: ${behind} ticks since its stored clock, ${recent.length} in its recent ticks`,
    );
  return advanceClock(stored, recent.slice(-behind));
}

/** The registration state of `ids` on this shard. */
export async function lookupIds(redis: RedisClient, keys: ShardKeys, ids: string[]): Promise<KnownIds> {
  const known: KnownIds = new Map();
  if (ids.length === 0) return known;
  const values = await redis.hmget(keys.ids, ...ids);
  ids.forEach((id, i) => {
    const state = shardCodec.decodeLedger(values[i]);
    if (state !== undefined) known.set(id, state);
  });
  return known;
}

/**
 * A symbol's recent ticks as committed in Redis, oldest first: the last `limit` of them, or all
 * that are kept (up to twice TICK_BUFFER_SIZE) without one. The previous version's list, while
 * it is there, holds the ticks before the packed string's; both are read in one MULTI, so a
 * checkpoint deleting the list between two reads cannot hide ticks.
 */
export async function loadRecent(
  redis: RedisClient,
  keys: ShardKeys,
  symbol: string,
  limit?: number,
): Promise<Tick[]> {
  const whole = limit === undefined || limit <= 0;
  const replies = await redis
    .multi()
    .lrange(keys.recentList(symbol), whole ? 0 : -limit, -1)
    .getrangeBuffer(keys.recentTicks(symbol), whole ? 0 : -limit * RECENT_TICK_BYTES, -1)
    .exec();
  if (replies === null)
    throw new Error(`reading ${symbol}'s recent ticks: the Redis transaction was aborted`);
  for (const [err] of replies) if (err) throw err;
  const listed = replies[0]![1] as string[];
  const packed = shardCodec.unpackTicks(replies[1]![1] as Buffer, symbol);
  if (listed.length === 0) return packed;
  const ticks = [...listed.map((x) => shardCodec.decodeRecentTick(x)), ...packed];
  return whole ? ticks : ticks.slice(-limit);
}

/** Records per HSCAN page while a shard's hash of before the buckets is read (Redis's COUNT is a hint). */
const LOAD_PAGE = 10_000;
/** Pages of a shard fetched ahead of their decoding, at most. */
const LOAD_PAGES_AHEAD = 2;
/** Records decoded and restored between two yields to the event loop while a shard is loaded. */
const LOAD_SLICE = 1000;

/** Some of a shard's records as read: their texts, and their ids when the read returned them. */
interface RecordPage {
  texts: string[];
  ids: string[] | null;
}

/**
 * A shard's records page by page: its hash of before the buckets, paged (HSCAN: it may be
 * large), then each bucket whole (HVALS: a third of HSCAN's cost to Redis, docs/BENCHMARKS.md).
 * In that order, because records only ever move from the old hash to their buckets
 * ({@link moveUnbucketed} and the checkpoint script): one moved while the shard is read is met
 * in one place or the other, perhaps both (restored once, `ShardRuntime.restoreSignals`).
 */
async function* recordPages(
  redis: RedisClient,
  keys: ShardKeys,
  pageSize: number,
): AsyncGenerator<RecordPage> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.signals, cursor, 'COUNT', pageSize);
    if (flat.length > 0) {
      const page: RecordPage = { texts: [], ids: [] };
      for (let i = 1; i < flat.length; i += 2) {
        page.ids!.push(flat[i - 1]!);
        page.texts.push(flat[i]!);
      }
      yield page;
    }
    cursor = next;
  } while (cursor !== '0');
  for (const key of keys.signalBuckets) yield { texts: await redis.hvals(key), ids: null };
}

/** The pages of an async source, fetched ahead of their consumer (at most `ahead` waiting). */
class ReadAhead<T> {
  private readonly waiting: Promise<IteratorResult<T>>[] = [];
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<T>,
    private readonly ahead: number,
  ) {
    this.fill();
  }

  private fill(): void {
    while (!this.ended && this.waiting.length < this.ahead) {
      const next = this.source.next();
      next.then(
        (r) => (this.ended ||= r.done === true),
        () => (this.ended = true),
      );
      this.waiting.push(next);
    }
  }

  /** The next page, or null after the last; rethrows the source's error. */
  async next(): Promise<T | null> {
    const next = this.waiting.shift();
    if (next === undefined) return null;
    const r = await next;
    if (r.done === true) return null;
    this.fill();
    return r.value;
  }
}

/** A shard's stored state on its way from Redis: started by {@link readShard}. */
export interface ShardReading {
  readonly head: Promise<[string | null, string | null, string[], Map<string, BookClock>]>;
  readonly records: ReadAhead<RecordPage>;
}

/** Every stack string a clock may have: per series (SERIES order), max and min. */
const ALL_STACKS: StackRef[] = [0, 1, 2, 3].flatMap((series) => [
  { series, kind: 'max' as const },
  { series, kind: 'min' as const },
]);

/**
 * Index clocks as the books hash holds them, with their extrema stacks read from their strings
 * and brought forward over the ticks applied since (the tick counts of book-seqs, the ticks at
 * the end of the recent-ticks strings): one more round trip. Read after the clocks, not with
 * them: a checkpoint committed in between moved the progress marker, so the loading worker's
 * first commit is refused and it loads again; a stack or a tick string shorter than its clock
 * says throws (a transient error, retried).
 */
async function readBookClocks(
  redis: RedisClient,
  keys: ShardKeys,
  texts: Record<string, string>,
  seqs: Record<string, string>,
): Promise<Map<string, BookClock>> {
  const wanted: { symbol: string; ref: StackRef }[] = [];
  const behind: { symbol: string; count: number }[] = [];
  for (const [symbol, text] of Object.entries(texts)) {
    for (const ref of shardCodec.stacksOf(text)) wanted.push({ symbol, ref });
    const count = Number(seqs[symbol] ?? 0) - shardCodec.clockSeq(text);
    if (count > 0) behind.push({ symbol, count });
  }
  const stacks = new Map<string, Buffer | null>();
  const ticks = new Map<string, Tick[]>();
  if (wanted.length + behind.length > 0) {
    const multi = redis.multi();
    for (const { symbol, ref } of wanted) multi.getBuffer(keys.extremaStack(symbol, ref.series, ref.kind));
    for (const { symbol, count } of behind)
      multi.getrangeBuffer(keys.recentTicks(symbol), -count * RECENT_TICK_BYTES, -1);
    const replies = await multi.exec();
    if (replies === null)
      throw new Error(`reading shard ${keys.shard}'s extrema: the Redis transaction was aborted`);
    for (const [err] of replies) if (err) throw err;
    wanted.forEach(({ symbol, ref }, i) => {
      stacks.set(keys.extremaStack(symbol, ref.series, ref.kind), replies[i]![1] as Buffer | null);
    });
    behind.forEach(({ symbol }, i) => {
      ticks.set(symbol, shardCodec.unpackTicks(replies[wanted.length + i]![1] as Buffer, symbol));
    });
  }
  const clocks = new Map<string, BookClock>();
  for (const [symbol, text] of Object.entries(texts)) {
    const stored = shardCodec.decodeBookClock(text, (ref) =>
      stacks.get(keys.extremaStack(symbol, ref.series, ref.kind)),
    );
    clocks.set(symbol, clockAt(symbol, stored, seqs[symbol], ticks.get(symbol) ?? []));
  }
  return clocks;
}

/**
 * Starts reading a shard: its progress keys, index clocks and the first pages of its records
 * (the rest as {@link restoreShard} consumes them), `pageSize` records a page (about). Started before the shard's turn to be
 * decoded comes, so that Redis's work overlaps the decoding of the shards ahead of it.
 */
export function readShard(redis: RedisClient, keys: ShardKeys, pageSize = LOAD_PAGE): ShardReading {
  const head = Promise.all([
    redis.get(keys.progress),
    redis.get(keys.appliedAuto),
    // One list for decodeProgress; the runtime sorts the operations' ids out again.
    Promise.all([redis.lrange(keys.appliedCustom, 0, -1), redis.lrange(keys.appliedOps, 0, -1)]).then(
      (lists) => lists.flat(),
    ),
    redis
      .multi()
      .hgetall(keys.books)
      .hgetall(keys.bookSeqs)
      .exec()
      .then((replies) => {
        if (replies === null)
          throw new Error(`reading shard ${keys.shard}: the Redis transaction was aborted`);
        for (const [err] of replies) if (err) throw err;
        const [texts, seqs] = replies.map(([, value]) => value as Record<string, string>) as [
          Record<string, string>,
          Record<string, string>,
        ];
        return readBookClocks(redis, keys, texts, seqs);
      }),
  ]);
  // Awaited by restoreShard, maybe later: marked handled meanwhile.
  head.catch(() => undefined);
  return { head, records: new ReadAhead(recordPages(redis, keys, pageSize), LOAD_PAGES_AHEAD) };
}

/**
 * Rebuilds a shard's runtime from a {@link readShard}: progress marker, index clocks, open
 * signals (recent ticks later, on demand).
 *
 * A shard may hold a million records, and filing them is most of a take-over: a record written
 * with its index entries is filed without being decoded (its context is built when first
 * needed, `shardCodec.restoreRecord`), others are decoded. They are filed page by page as they
 * arrive, in slices of {@link LOAD_SLICE} with a yield to the event loop after each, so that
 * the process renews its job locks and runs the jobs of shards it has loaded already while it
 * loads this one.
 */
export async function restoreShard(reading: ShardReading, bufferSize: number): Promise<ShardRuntime> {
  const [progress, appliedAuto, appliedCustom, books] = await reading.head;
  // Recent ticks stay in Redis until a late registration needs them (loadRecent).
  const runtime = ShardRuntime.restore(
    bufferSize,
    shardCodec.decodeProgress(progress, appliedAuto, appliedCustom),
    books,
    [],
    new Map(),
  );
  const records: (CheckpointRecord | DeferredSignal)[] = [];
  for (let page = await reading.records.next(); page !== null; page = await reading.records.next()) {
    const { texts, ids } = page;
    for (let i = 0; i < texts.length; i++) {
      records.push(shardCodec.restoreRecord(texts[i]!, ids?.[i]));
      if (records.length === LOAD_SLICE || i + 1 === texts.length) {
        runtime.restoreSignals(records);
        records.length = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }
  return runtime;
}

/**
 * Moves records from one old hash to their buckets, as they are (KEYS: the old hash, then every
 * bucket in order; ARGV: id, bucket, id, bucket…). A record no longer there (written or deleted
 * by a checkpoint meanwhile, which writes to the bucket) is left alone: the script reads it in
 * the same atomic step.
 */
const MOVE_LUA = `
local moved = 0
for i = 1, #ARGV, 2 do
  local text = redis.call('HGET', KEYS[1], ARGV[i])
  if text then
    redis.call('HSET', KEYS[2 + tonumber(ARGV[i + 1])], ARGV[i], text)
    redis.call('HDEL', KEYS[1], ARGV[i])
    moved = moved + 1
  end
end
return moved
`;

type RedisWithMove = RedisClient & {
  otMoveRecords(numKeys: number, ...args: (string | number)[]): Promise<number>;
};

/** Records moved a step by {@link moveUnbucketed} (a few milliseconds of Redis each). */
const MOVE_PAGE = 1000;

/**
 * Moves a shard's records written before the buckets (its old signals hash) into their
 * buckets, a page at a time, until the old hash is gone or `stop()` says so; returns how many
 * it moved. A worker runs it after loading a shard that still has them (an upgrade), so that
 * the next take-over reads buckets only (docs/STORAGE.md "Redis: a shard's open-signal records").
 */
export async function moveUnbucketed(
  redis: RedisClient,
  keys: ShardKeys,
  stop: () => boolean = () => false,
): Promise<number> {
  const r = redis as RedisWithMove;
  if (typeof r.otMoveRecords !== 'function') redis.defineCommand('otMoveRecords', { lua: MOVE_LUA });
  let moved = 0;
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(keys.signals, cursor, 'COUNT', MOVE_PAGE);
    const args: (string | number)[] = [];
    for (let i = 0; i < flat.length; i += 2) args.push(flat[i]!, signalBucketOf(flat[i]!));
    if (args.length > 0)
      moved += await r.otMoveRecords(1 + SIGNAL_BUCKETS, keys.signals, ...keys.signalBuckets, ...args);
    cursor = next;
  } while (cursor !== '0' && !stop());
  return moved;
}

/** How many open signals a shard holds: its records in every bucket and in its old hash. */
export async function countOpenRecords(redis: RedisClient, keys: ShardKeys): Promise<number> {
  const counts = await Promise.all([keys.signals, ...keys.signalBuckets].map((key) => redis.hlen(key)));
  return counts.reduce((a, b) => a + b, 0);
}

/** Every open signal's record in a shard, by id (tests, benchmarks and diagnosis: one reply a hash). */
export async function readRecords(redis: RedisClient, keys: ShardKeys): Promise<Map<string, string>> {
  const records = new Map<string, string>();
  for (const key of [keys.signals, ...keys.signalBuckets])
    for (const [id, text] of Object.entries(await redis.hgetall(key))) records.set(id, text);
  return records;
}

/** Reads and rebuilds a shard's runtime from Redis ({@link readShard}, {@link restoreShard}). */
export async function loadShard(
  redis: RedisClient,
  keys: ShardKeys,
  bufferSize: number,
): Promise<ShardRuntime> {
  return restoreShard(readShard(redis, keys), bufferSize);
}

/**
 * The committed outcome lines of some of this shard's signals: a closed signal's from the
 * outbox, an open signal's from its checkpoint brought up to its symbol's last committed tick
 * (with every tick folded in, excursions included, as a worker restoring the shard would).
 * Signals in neither (never registered here, or already flushed to PostgreSQL) are absent.
 *
 * One MULTI: a signal is in exactly one of checkpoints and outbox, and its checkpoint matches
 * its symbol's index clock (they are committed together).
 */
export async function readOutcomes(
  redis: RedisClient,
  keys: ShardKeys,
  signals: { id: string; symbol: string }[],
): Promise<Map<string, OutcomeLine>> {
  const lines = new Map<string, OutcomeLine>();
  if (signals.length === 0) return lines;
  const ids = signals.map((s) => s.id);
  const symbols = [...new Set(signals.map((s) => s.symbol))];
  const inBucket = new Map<number, string[]>();
  for (const id of ids) {
    const b = signalBucketOf(id);
    const list = inBucket.get(b);
    if (list === undefined) inBucket.set(b, [id]);
    else list.push(id);
  }
  const multi = redis
    .multi()
    .hmget(keys.signals, ...ids)
    .hmget(keys.outbox, ...ids.map((id) => OUTBOX_KEYS.closed(id)))
    .hmget(keys.books, ...symbols)
    .hmget(keys.bookSeqs, ...symbols);
  for (const [b, list] of inBucket) multi.hmget(keys.signalBucket(b), ...list);
  // Every stack string the symbols may have, and the ticks their clocks may be behind (at most
  // CLOCK_EVERY_MAX), in the same MULTI as the clocks.
  for (const s of symbols) {
    for (const ref of ALL_STACKS) multi.getBuffer(keys.extremaStack(s, ref.series, ref.kind));
    multi.getrangeBuffer(keys.recentTicks(s), -CLOCK_EVERY_MAX * RECENT_TICK_BYTES, -1);
  }
  const replies = await multi.exec();
  if (replies === null) throw new Error(`reading shard ${keys.shard}: the Redis transaction was aborted`);
  for (const [err] of replies) if (err) throw err;
  const [unbucketed, outbox, books, seqs] = replies
    .slice(0, 4)
    .map(([, value]) => value as (string | null)[]) as [
    (string | null)[],
    (string | null)[],
    (string | null)[],
    (string | null)[],
  ];
  // A record is in its bucket, or (written before the buckets) in the shard's old hash.
  const bucketed = new Map<string, string>();
  let next = 4;
  for (const list of inBucket.values()) {
    const texts = replies[next++]![1] as (string | null)[];
    list.forEach((id, i) => {
      if (texts[i]) bucketed.set(id, texts[i]!);
    });
  }
  const perSymbol = ALL_STACKS.length + 1;
  const symbolReplies = replies.slice(next).map(([, value]) => value as Buffer | null);
  const clocks = new Map<string, BookClock>();
  symbols.forEach((s, i) => {
    const text = books[i];
    if (!text) return;
    const at = (ref: StackRef): Buffer | null =>
      symbolReplies[i * perSymbol + ref.series * 2 + (ref.kind === 'max' ? 0 : 1)] ?? null;
    const stored = shardCodec.decodeBookClock(text, at);
    const recent = symbolReplies[i * perSymbol + ALL_STACKS.length] ?? Buffer.alloc(0);
    clocks.set(s, clockAt(s, stored, seqs[i], shardCodec.unpackTicks(recent, s)));
  });
  const open: CheckpointRecord[] = [];
  ids.forEach((id, i) => {
    const closed = outbox[i];
    if (closed) {
      const entry = shardCodec.decodeOutboxEntry(closed);
      if (entry.kind === 'closed') lines.set(id, entry.outcome);
      return;
    }
    const text = bucketed.get(id) ?? unbucketed[i];
    if (text) open.push(shardCodec.decodeRecord(text));
  });
  if (open.length > 0) {
    // Restored as a worker restores the shard, with these signals only.
    const runtime = ShardRuntime.restore(0, { appliedJob: null }, clocks, open, new Map());
    for (const c of runtime.openSignals()) lines.set(c.id, outcomeLine(c));
  }
  return lines;
}
