import { createHash } from 'node:crypto';

/**
 * One home for every name the system gives things outside its own memory: Redis keys, queue
 * and job names, Lua command names, outbox and ledger keys, audit events (as BullMQ's
 * QueueKeys does for its keys). A new queue, key or event is named here and nowhere else.
 * A shard's queue
 * and all its state share one hash tag, `{ticks-N}`, so that on Redis Cluster a shard lives on
 * one node, its checkpoint MULTI is single-slot, and shards spread over nodes.
 */
export const QUEUE_NAMES = {
  /** Upstream signal submissions (public, versioned contract: docs/QUEUES.md). */
  trackSignal: 'track-signal',
  /** Operations on live signals: exit, cancel, amend. */
  signalOps: 'signal-ops',
  /** Analyzer jobs from the scheduler. */
  analyze: 'analyze',
  /** Webhook deliveries, one job per (webhook, event), fed from the events stream. */
  webhooks: 'webhooks',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * The BullMQ name of one of QUEUE_NAMES: as is on a single Redis (the public contract of
 * docs/QUEUES.md, and BullMQ's default names), in a hash tag of its own on Redis Cluster
 * (`{track-signal}`). BullMQ's scripts touch several keys of a queue at once, so on a cluster all
 * of them must hash to one slot; a tag per queue (not one for every queue, as a `{prefix}` would)
 * lets the queues spread over the nodes. Shard queues carry their tag everywhere (shardQueueName).
 */
export function queueNameOn(name: QueueName, cluster: boolean): string {
  return cluster ? `{${name}}` : name;
}

/**
 * Names of the jobs this system adds itself. Producers name `track-signal` and `signal-ops`
 * jobs as they like; shard jobs carry the signal id, so Bull Board shows whose they are.
 */
export const JOB_NAMES = {
  /** A shard registration of an accepted signal. */
  register: (signalId: string) => `register:${signalId}`,
  /** Several accepted signals of one intake batch registered on their shard in one job. */
  registerBatch: (signalIds: readonly string[]) =>
    `register:${signalIds[0]}${signalIds.length > 1 ? ` +${signalIds.length - 1}` : ''}`,
  /** An operation forwarded to its signal's shard (`exit:<id>`, `cancel:<id>`, `amend:<id>`). */
  operation: (op: string, signalId: string) => `${op}:${signalId}`,
  /** A batch of ticks on a shard queue. */
  ticks: 'ticks',
  /** The stale sweep, from the scheduler. */
  sweep: 'sweep',
  /** From the flusher: closed ids whose outcomes PostgreSQL now holds. */
  forget: 'forget',
  /** An analyzer run, from the scheduler or the `analyze` command. */
  analyze: 'analyze',
  /** One delivery of one event to one webhook. */
  webhook: 'deliver',
} as const;

/**
 * The `track-signal` job id of a signal, as docs/QUEUES.md recommends to producers: `sig-` and
 * the hex SHA-256 of the id's UTF-8 bytes (valid for every id, where the id itself may hold `:`
 * or read as an integer, which BullMQ refuses). `POST /v1/signals` uses it, so that resubmitting
 * a signal over HTTP while its job is still in the queue adds nothing.
 */
export function signalJobId(signalId: string): string {
  return `sig-${createHash('sha256').update(signalId, 'utf8').digest('hex')}`;
}

/**
 * The shard job id of an operation forwarded by the intake from `signal-ops` job `opsJobId`:
 * derived from it, so that an intake job run again after a crash (forwarded, not yet marked
 * completed) adds no second job (BullMQ ignores an id it holds; the shard skips one it applied).
 */
export function forwardedOpJobId(opsJobId: string): string {
  return `op-${createHash('sha256').update(opsJobId, 'utf8').digest('hex')}`;
}

/** Whether shard job id `jobId` has the form of {@link forwardedOpJobId}'s. */
export function isForwardedOpJobId(jobId: string): boolean {
  return /^op-[0-9a-f]{64}$/.test(jobId);
}

/** Lua scripts defined on ioredis clients (`defineCommand`), by the name they are called with. */
export const LUA_COMMANDS = {
  /** A shard job's atomic compare-and-set checkpoint (src/live/shardStore.ts). */
  checkpoint: 'otCheckpoint',
  /** The flusher's delete-if-unchanged of outbox entries (src/live/createFlusher.ts). */
  outboxDelete: 'otOutboxDelete',
} as const;

/**
 * The events of `audit_logs`, as its CHECK constraint lists them (the latest migration that
 * sets `audit_logs_event_check`; test/unit/names.test.ts keeps the two in step).
 */
export const AUDIT_EVENTS = [
  'accepted',
  'rejected',
  'amended',
  'cancelled',
  'exited',
  'closed',
  'op_rejected',
  'catchup_gap',
  'orphan_dropped',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/**
 * What an API key may do (docs/API.md "Scopes"), as `api_keys.scopes` stores them. `admin`
 * implies the others. `metrics` reaches the web process's Prometheus counters, which total
 * every tenant, and nothing of any tenant.
 */
export const SCOPES = ['submit', 'read', 'metrics', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Outbox entry keys (a shard's outbox hash): the same event always gets the same key. */
export const OUTBOX_KEYS = {
  /** A closed outcome: one per signal, ever. */
  closed: (signalId: string) => `closed:${signalId}`,
  /** An operation's result: one per shard job. */
  op: (jobId: string) => `op:${jobId}`,
  /** A catch-up gap: the `index`-th entry of the job. */
  gap: (signalId: string, jobId: string, index: number) => `gap:${signalId}:${jobId}:${index}`,
  /**
   * A signal event for the events stream (fill, leg, stop move): named by what happened, not
   * by the job, so a re-delivered job writes the same key: the fill once, leg `n` once, a stop
   * move once per (market time, kind, level).
   */
  event: (signalId: string, what: string) => `ev:${signalId}:${what}`,
} as const;

/**
 * The latest analyzer schedule slot whose jobs were enqueued (epoch ms, a string): a scheduler
 * that starts enqueues the slots it missed since (src/analyzer/scheduleAnalyze.ts). Outside
 * BullMQ's own keys of the queue, whose job ids it could otherwise meet.
 */
export function analyzeLastSlotKey(prefix: string): string {
  return `${prefix}:analyze-schedule:last-slot`;
}

/** Keys of the live events (DESIGN.md decision 12, docs/API.md "Live stream"). */
export class EventKeys {
  constructor(readonly prefix: string) {}
  /**
   * Stream: every published event, in publication order; its entry ids are the SSE event ids.
   * One key (one slot on Redis Cluster): a client's resume position is one id.
   */
  get stream(): string {
    return `${this.prefix}:events`;
  }
  /** The consumer group of the events stream that feeds the webhooks queue. */
  get webhookGroup(): string {
    return 'webhooks';
  }
}

/**
 * The flusher's `outbox_applied` key of an outbox entry that is not an outcome: its shard queue,
 * its outbox key and a digest of its content (unique even if a queue's job ids start over).
 */
export function outboxLedgerKey(shard: number, outboxKey: string, digest: string): string {
  return `${shardQueueName(shard)}|${outboxKey}|${digest}`;
}

/**
 * The `outbox_applied` key of a rejection stored by an intake job: its queue, its job id and a
 * digest of what is stored (unique even if a queue's job ids start over), so that a job run
 * again after a crash stores its rejection once.
 */
export function rejectionLedgerKey(queue: string, jobId: string, stored: string): string {
  return `${queue}|${jobId}|${createHash('sha256').update(stored, 'utf8').digest('hex')}`;
}

/**
 * Whether `jobId` is one of BullMQ's own ids (decimal integers, increasing per queue), which
 * compare by value. Exactly the ids BullMQ refuses as custom ids ("Custom Id cannot be
 * integers": those that parseInt gives back unchanged): a custom id may still be all digits,
 * zero-padded ("0099") or longer than a double holds ("12345678901234567891"), and taken for
 * BullMQ's own it would mark every job numbered below it as applied.
 */
export function isBullmqJobId(jobId: string): boolean {
  return /^[0-9]+$/.test(jobId) && String(parseInt(jobId, 10)) === jobId;
}

/** The queue name of shard `n`; the braces are the Redis Cluster hash tag. */
export function shardQueueName(n: number): string {
  return `{ticks-${n}}`;
}

/** Keys of one shard's state, beside its queue's keys. */
export class ShardKeys {
  private readonly base: string;
  constructor(
    readonly prefix: string,
    readonly shard: number,
  ) {
    this.base = `${prefix}:${shardQueueName(shard)}`;
  }
  /**
   * Hash: signal id → checkpoint record, as open signals were kept before
   * {@link signalBucket}: still read at a take-over, emptied as its records are written again
   * (docs/STORAGE.md "Redis: a shard's open-signal records").
   */
  get signals(): string {
    return `${this.base}:signals`;
  }
  /**
   * Hash `bucket` (0 to {@link SIGNAL_BUCKETS} − 1) of the shard's open signals: signal id →
   * checkpoint record, for the ids of {@link signalBucketOf} `bucket`.
   */
  signalBucket(bucket: number): string {
    return `${this.base}:signals:${bucket}`;
  }
  /** The {@link signalBucket} that holds signal `id`'s record. */
  bucketOf(id: string): string {
    return this.signalBucket(signalBucketOf(id));
  }
  /** Every one of the shard's {@link signalBucket} hashes, in bucket order. */
  get signalBuckets(): string[] {
    return Array.from({ length: SIGNAL_BUCKETS }, (_, b) => this.signalBucket(b));
  }
  /** Hash: signal id → "open" | "closed": every id ever registered here (registration is idempotent). */
  get ids(): string {
    return `${this.base}:ids`;
  }
  /** Hash: symbol → that symbol's index state (tick count, clock, extrema stack lengths). */
  get books(): string {
    return `${this.base}:books`;
  }
  /**
   * Hash: symbol → that symbol's tick count at the last commit. The clock in {@link books} is
   * written only every so many ticks; the ticks since are the last ones of the symbol's
   * {@link recentTicks}.
   */
  get bookSeqs(): string {
    return `${this.base}:book-seqs`;
  }
  /**
   * String: one extrema stack of `symbol`'s index (series number in SERIES order, `max` or
   * `min`), packed (shardCodec's `packStack`, 16 bytes an entry); its clock in {@link books}
   * says how many entries count.
   */
  extremaStack(symbol: string, series: number, kind: 'max' | 'min'): string {
    return `${this.base}:extrema:${series}${kind}:${symbol}`;
  }
  /**
   * String: recent ticks of `symbol`, for catching up late signals, packed (shardCodec's
   * `packTicks`, 32 bytes a tick): between TICK_BUFFER_SIZE and twice that once full.
   */
  recentTicks(symbol: string): string {
    return `${this.base}:recent-ticks:${symbol}`;
  }
  /**
   * List: recent ticks of `symbol` as the previous version kept them (one wire tick of JSON per
   * element), older than any in {@link recentTicks}. Read in front of the string while it is
   * there; the checkpoint deletes it once the string alone holds a whole buffer.
   */
  recentList(symbol: string): string {
    return `${this.base}:recent:${symbol}`;
  }
  /** Hash: entry key → outbox entry (closed outcomes, operation results) awaiting the flusher. */
  get outbox(): string {
    return `${this.base}:outbox`;
  }
  /** Hash: job id → a shard job that could not be applied (poison), with the error. */
  get poison(): string {
    return `${this.base}:poison`;
  }
  /** String: id of the last shard job whose effects are committed. */
  get progress(): string {
    return `${this.base}:progress`;
  }
  /** String: the highest BullMQ-numbered job applied here (BullMQ's own ids are increasing integers). */
  get appliedAuto(): string {
    return `${this.base}:applied-auto`;
  }
  /**
   * List: the latest custom-id jobs applied here (a foreign producer's ids, which may be digits
   * too: see isBullmqJobId), which say nothing about order and are remembered one by one.
   */
  get appliedCustom(): string {
    return `${this.base}:applied-custom`;
  }
  /**
   * List: the latest operations forwarded by the intake applied here (their
   * {@link forwardedOpJobId}s), apart from the other custom ids: `signal-ops` runs one job at a
   * time, so no later operation pushes one out before its intake job, run again after a crash,
   * looks it up; tick batches with ids of their own would (docs/OPERATIONS.md).
   */
  get appliedOps(): string {
    return `${this.base}:applied-ops`;
  }
  /** String: the latest tick time this shard applied and the wall time it did (market clock). */
  get clock(): string {
    return `${this.base}:clock`;
  }
}

/** Keys of the intake workers' shared state. */
export class IntakeKeys {
  constructor(readonly prefix: string) {}
  /** String with a TTL, set while intake jobs wait out a PostgreSQL outage (`/health` reports it). */
  get outage(): string {
    return `${this.prefix}:intake:outage`;
  }
  /** List: ids of the signal-ops jobs waiting for signal `id`, in arrival order. */
  opsWaiting(id: string): string {
    return `${this.prefix}:signal-ops:waiting:${id}`;
  }
}

/** Keys of the web process's own state. */
export class WebKeys {
  constructor(readonly prefix: string) {}
  /**
   * String with a TTL: what `POST /v1/ticks` did under one tenant's `Idempotency-Key`
   * (`hash`: the SHA-256 of the tenant and the key, so any text the client chose makes a safe key).
   */
  tickIdempotency(hash: string): string {
    return `${this.prefix}:idempotency:ticks:${hash}`;
  }
  /** String with a TTL: the operation sent under one tenant's `Idempotency-Key`, as above. */
  operationIdempotency(hash: string): string {
    return `${this.prefix}:idempotency:ops:${hash}`;
  }
}

/** FNV-1a, 32 bit: the symbol → shard hash. Stable across processes, languages and versions. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * How many hashes a shard's open-signal records are spread over. A take-over reads each whole
 * (HVALS), which costs Redis about a third of paging one large hash (HSCAN) and keeps a reply
 * to a few MB up to some 100,000 open signals a bucket. Changing it moves every record: a
 * storage format change (docs/STORAGE.md).
 */
export const SIGNAL_BUCKETS = 64;

/** The {@link ShardKeys.signalBucket} that holds the record of signal `id`. */
export function signalBucketOf(id: string): number {
  return fnv1a(id) % SIGNAL_BUCKETS;
}

/** The shard of a symbol (upper-cased as SPEC normalises it). */
export function shardOf(symbol: string, shards: number): number {
  return fnv1a(symbol.toUpperCase()) % shards;
}
