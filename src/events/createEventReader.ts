import { duplicateClient, type RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import type { EventKeys } from '../names.ts';
import { STREAM_FIELDS } from './publishEvents.ts';

/** One entry of the events stream, as read. */
export interface StreamEntry {
  /** The stream entry id (`<ms>-<seq>`), the SSE event id. */
  id: string;
  /** The event's stable key (the same for a repeat). */
  key: string;
  type: string;
  tenant: string;
  /** The event as JSON, sent as is. */
  json: string;
}

/** Where a resume from `lastId` stands: the entries after it still there, or some trimmed. */
export interface ResumePoint {
  /** Entries after `lastId` were trimmed: the client missed events. */
  gap: boolean;
  /** The oldest entry still in the stream, if any. */
  firstId: string | null;
}

export interface EventReader {
  /**
   * Calls `deliver` with every entry read from now on, in stream order (repeats dropped), a
   * batch per read (the same array for every subscriber: do not change it). One XREAD BLOCK
   * loop serves every subscriber of the process. Returns the unsubscribe function.
   */
  subscribe(deliver: (entries: readonly StreamEntry[]) => void): () => void;
  /**
   * A page of the entries after `afterId` (exclusive), oldest first, repeats dropped: `last` is
   * the id of the page's last entry (repeat or not), null when there was none.
   */
  readAfter(afterId: string, count: number): Promise<{ entries: StreamEntry[]; last: string | null }>;
  /** Whether entries after `lastId` were trimmed. */
  resumePoint(lastId: string): Promise<ResumePoint>;
  /** Subscribers right now. */
  readonly subscribers: number;
  close(): Promise<void>;
}

export interface EventReaderOptions {
  /** A client for the non-blocking reads; the blocking loop runs on a duplicate of it. */
  redis: RedisClient;
  keys: EventKeys;
  log: Logger;
  /** How long one XREAD blocks. @defaultValue 5000 */
  blockMs?: number;
  /** Event keys remembered to drop repeats. @defaultValue 100000 */
  rememberKeys?: number;
}

/** Compares two stream ids (`ms-seq`) by value. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const d = BigInt(am!) - BigInt(bm!);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(as ?? '0') - BigInt(bs ?? '0');
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}

/**
 * The web process's reader of the events stream: one blocking connection per process, fanned
 * out to every SSE client, so a thousand clients cost one Redis connection, not a thousand
 * (a client that resumes reads its back-log with XRANGE on the shared non-blocking client).
 * It remembers the keys of recent events and drops an entry whose key it has already seen at
 * an earlier id: a repeat published by a flusher that stopped between publishing and removing.
 */
export function createEventReader(opts: EventReaderOptions): EventReader {
  const blockMs = opts.blockMs ?? 5000;
  const remember = opts.rememberKeys ?? 100_000;
  const subscribers = new Set<(entries: readonly StreamEntry[]) => void>();
  /** Event key → the id it was first seen at (insertion order: oldest first, for eviction). */
  const seen = new Map<string, string>();
  let blocking: RedisClient | null = null;
  let loop: Promise<void> | null = null;
  let closing = false;

  function isRepeat(entry: StreamEntry): boolean {
    const first = seen.get(entry.key);
    if (first !== undefined) return compareStreamIds(first, entry.id) < 0;
    seen.set(entry.key, entry.id);
    if (seen.size > remember) seen.delete(seen.keys().next().value!);
    return false;
  }

  async function run(): Promise<void> {
    blocking = duplicateClient(opts.redis, { maxRetriesPerRequest: null, commandTimeout: undefined });
    blocking.on('error', (err) => opts.log.warn({ err }, 'events stream reader: Redis error'));
    let lastId = '0-0';
    let failures = 0;
    while (!closing) {
      try {
        if (lastId === '0-0') {
          const last = await opts.redis.xrevrange(opts.keys.stream, '+', '-', 'COUNT', 1);
          lastId = last[0]?.[0] ?? '0-0';
        }
        const reply = (await blocking.xread(
          'COUNT',
          1000,
          'BLOCK',
          blockMs,
          'STREAMS',
          opts.keys.stream,
          lastId,
        )) as [string, [string, string[]][]][] | null;
        failures = 0;
        for (const [, entries] of reply ?? []) {
          const batch: StreamEntry[] = [];
          for (const raw of entries) {
            lastId = raw[0];
            const entry = toEntry(raw);
            if (entry !== null && !isRepeat(entry)) batch.push(entry);
          }
          if (batch.length > 0) for (const deliver of subscribers) deliver(batch);
        }
      } catch (err) {
        if (closing) break;
        failures++;
        if (failures === 1 || failures % 20 === 0)
          opts.log.warn({ err, failures }, 'events stream read failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)));
      }
    }
  }

  return {
    subscribe(deliver) {
      subscribers.add(deliver);
      if (loop === null && !closing) loop = run();
      return () => subscribers.delete(deliver);
    },
    async readAfter(afterId, count) {
      const raw = await opts.redis.xrange(opts.keys.stream, `(${afterId}`, '+', 'COUNT', count);
      const entries: StreamEntry[] = [];
      for (const r of raw) {
        const entry = toEntry(r);
        if (entry !== null && !isRepeat(entry)) entries.push(entry);
      }
      return { entries, last: raw.length > 0 ? raw[raw.length - 1]![0] : null };
    },
    async resumePoint(lastId) {
      // Redis trims from the head, so the entries after `lastId` are all there exactly when
      // `lastId` itself still is, or when nothing older than the first retained entry is gone
      // after it. Trimming does not move max-deleted-entry-id (Redis 7.0), so the test is on
      // the entry itself: missing and older than the first retained one is a gap (at worst a
      // gap reported when only `lastId` itself went, never silence).
      const [info, self] = await Promise.all([
        opts.redis.xinfo('STREAM', opts.keys.stream).catch((err: unknown) => {
          if (err instanceof Error && /no such key/i.test(err.message)) return null;
          throw err;
        }) as Promise<unknown[] | null>,
        opts.redis.xrange(opts.keys.stream, lastId, lastId),
      ]);
      if (info === null) return { gap: false, firstId: null };
      const field = (name: string): unknown => info[info.indexOf(name) + 1];
      const first = (field('first-entry') as [string, string[]] | null)?.[0] ?? null;
      const lastGenerated = String(field('last-generated-id') ?? '0-0');
      const maxDeleted = String(field('max-deleted-entry-id') ?? '0-0');
      if (compareStreamIds(maxDeleted, lastId) > 0) return { gap: true, firstId: first };
      if (self.length > 0) return { gap: false, firstId: first };
      const gap =
        first !== null ? compareStreamIds(first, lastId) > 0 : compareStreamIds(lastGenerated, lastId) > 0; // everything trimmed
      return { gap, firstId: first };
    },
    get subscribers() {
      return subscribers.size;
    },
    async close() {
      closing = true;
      subscribers.clear();
      blocking?.disconnect();
      await loop;
    },
  };
}

function toEntry([id, fields]: [string, string[]]): StreamEntry | null {
  let key: string | undefined;
  let type: string | undefined;
  let tenant: string | undefined;
  let json: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    switch (fields[i]) {
      case STREAM_FIELDS.key:
        key = value;
        break;
      case STREAM_FIELDS.type:
        type = value;
        break;
      case STREAM_FIELDS.tenant:
        tenant = value;
        break;
      case STREAM_FIELDS.event:
        json = value;
        break;
    }
  }
  if (key === undefined || type === undefined || tenant === undefined || json === undefined) return null;
  return { id, key, type, tenant, json };
}
