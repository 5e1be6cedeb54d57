import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions } from 'bullmq';
import { duplicateClient, isCluster, type RedisClient } from '../RedisClient.ts';
import type pg from 'pg';
import type { Logger } from 'pino';
import { findWebhooksFor } from '../storage/findWebhooksFor.ts';
import { EventKeys, JOB_NAMES, QUEUE_NAMES, queueNameOn } from '../names.ts';
import { STREAM_FIELDS } from './publishEvents.ts';

/** A stream entry as XREADGROUP and XAUTOCLAIM answer it: its id and its fields (null: trimmed). */
type StreamEntry = [string, string[] | null];

/** The data of a `webhooks` job: one event to one webhook. */
export interface WebhookJobData {
  webhookId: string;
  /** Stable: the same (webhook, event) always gets the same id (the X-OT-Delivery header). */
  deliveryId: string;
  eventKey: string;
  eventType: string;
  /** The event as published, the body sent (signed byte for byte). */
  body: string;
}

export interface WebhookFeederOptions {
  /** A client for the group reads; the blocking loop runs on a duplicate of it. */
  redis: RedisClient;
  connection: ConnectionOptions;
  prefix: string;
  pool: pg.Pool;
  log: Logger;
  /** This process's consumer name in the group (unique per process). */
  consumer: string;
  /** WEBHOOK_MAX_ATTEMPTS. */
  attempts: number;
  /** WEBHOOK_BACKOFF_MS. */
  backoffMs: number;
  /** How long one XREADGROUP blocks. @defaultValue 5000 */
  blockMs?: number;
  /** A pending entry idle this long (its consumer died) is taken over. @defaultValue 60000 */
  claimIdleMs?: number;
  /** How long a tenant's webhook list is reused. @defaultValue 2000 */
  cacheMs?: number;
  now?: () => number;
}

/** The delivery id of `eventKey` to `webhookId`: a digest, stable across repeats and processes. */
export function deliveryIdOf(webhookId: string, eventKey: string): string {
  return createHash('sha256').update(`${webhookId}|${eventKey}`).digest('hex').slice(0, 32);
}

/**
 * Feeds the `webhooks` queue from the events stream (DESIGN.md decision 12): a consumer group,
 * so worker processes share the stream, each entry read by one of them; for each event, one
 * job per webhook of its tenant that wants its type, with the delivery id as job id (a repeat
 * of the event, or an entry read again after a crash, adds no second job while the first is
 * kept); the entry is acknowledged after its jobs are added. Entries left pending by a dead
 * process are claimed after `claimIdleMs`.
 */
export function createWebhookFeeder(opts: WebhookFeederOptions): { close(): Promise<void> } {
  const log = opts.log.child({ component: 'webhook-feeder' });
  const keys = new EventKeys(opts.prefix);
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 2000;
  const queue = new Queue<WebhookJobData>(queueNameOn(QUEUE_NAMES.webhooks, isCluster(opts.connection)), {
    connection: opts.connection,
    prefix: opts.prefix,
  });
  queue.on('error', (err) => log.error({ err }, 'webhooks queue error'));
  const blocking = duplicateClient(opts.redis, { maxRetriesPerRequest: null, commandTimeout: undefined });
  blocking.on('error', (err) => log.warn({ err }, 'webhook feeder: Redis error'));
  const cache = new Map<string, { ids: string[]; until: number }>();
  let closing = false;

  async function webhooksFor(tenant: string, type: string): Promise<string[]> {
    // No tenant holds a NUL (PostgreSQL text cannot), and asking would fail the query forever.
    if (tenant.includes('\u0000')) return [];
    const k = `${tenant}\u0000${type}`;
    const hit = cache.get(k);
    if (hit !== undefined && hit.until > now()) return hit.ids;
    const ids = await findWebhooksFor(opts.pool, tenant, type);
    cache.set(k, { ids, until: now() + cacheMs });
    return ids;
  }

  async function handle(entries: readonly (StreamEntry | null)[]): Promise<void> {
    if (entries.length === 0) return;
    const jobs: { name: string; data: WebhookJobData; opts: object }[] = [];
    // A claimed entry trimmed from the stream meanwhile: Redis 7 names those apart (claimIdle);
    // 6.2 answers nil in its place, without its id, and keeps it pending.
    const trimmed = entries.filter((e) => e === null || e[1] === null);
    if (trimmed.length > 0)
      reportTrimmed(
        trimmed.flatMap((e) => (e === null ? [] : [e[0]])),
        trimmed.length,
      );
    const kept = entries.filter((e): e is StreamEntry => e !== null);
    for (const [, fields] of kept) {
      if (fields === null) continue;
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      const key = f.get(STREAM_FIELDS.key);
      const type = f.get(STREAM_FIELDS.type);
      const tenant = f.get(STREAM_FIELDS.tenant);
      const body = f.get(STREAM_FIELDS.event);
      if (key === undefined || type === undefined || tenant === undefined || body === undefined) continue;
      for (const webhookId of await webhooksFor(tenant, type)) {
        const deliveryId = deliveryIdOf(webhookId, key);
        jobs.push({
          name: JOB_NAMES.webhook,
          data: { webhookId, deliveryId, eventKey: key, eventType: type, body },
          opts: {
            jobId: deliveryId,
            attempts: opts.attempts,
            backoff: { type: 'exponential', delay: opts.backoffMs },
            removeOnComplete: { age: 86_400, count: 100_000 },
            removeOnFail: { age: 7 * 86_400, count: 100_000 },
          },
        });
      }
    }
    if (jobs.length > 0) await queue.addBulk(jobs);
    if (kept.length > 0) await opts.redis.xack(keys.stream, keys.webhookGroup, ...kept.map(([id]) => id));
  }

  /**
   * Takes over the entries that dead consumers left pending, all of them, 100 at a time. Those
   * trimmed from the stream meanwhile are gone: Redis drops them from the group and names them
   * (the third part of XAUTOCLAIM's answer, Redis 7), and they are reported.
   */
  async function claimIdle(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, claimed, deleted] = (await opts.redis.xautoclaim(
        keys.stream,
        keys.webhookGroup,
        opts.consumer,
        opts.claimIdleMs ?? 60_000,
        cursor,
        'COUNT',
        100,
      )) as [string, (StreamEntry | null)[], string[] | undefined];
      if (deleted !== undefined && deleted.length > 0) reportTrimmed(deleted, deleted.length);
      await handle(claimed);
      cursor = next;
    } while (cursor !== '0-0' && !closing);
  }

  /** Events read by a consumer that died, then trimmed before their deliveries were queued. */
  function reportTrimmed(ids: string[], count: number): void {
    log.error(
      { count, ids: ids.slice(0, 10) },
      'webhook feeder: events were trimmed from the stream before their deliveries were queued; ' +
        'their webhooks get no delivery (raise EVENTS_RETENTION, docs/OPERATIONS.md)',
    );
  }

  async function ensureGroup(): Promise<void> {
    try {
      // From now on: a new deployment does not deliver the stream's history.
      await opts.redis.xgroup('CREATE', keys.stream, keys.webhookGroup, '$', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error && /BUSYGROUP/.test(err.message))) throw err;
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    let claimedAt = 0;
    let ready = false;
    while (!closing) {
      try {
        if (!ready) {
          await ensureGroup();
          ready = true;
        }
        if (now() - claimedAt > (opts.claimIdleMs ?? 60_000) / 2) {
          claimedAt = now();
          await claimIdle();
        }
        const reply = (await blocking.xreadgroup(
          'GROUP',
          keys.webhookGroup,
          opts.consumer,
          'COUNT',
          100,
          'BLOCK',
          opts.blockMs ?? 5000,
          'STREAMS',
          keys.stream,
          '>',
        )) as [string, [string, string[]][]][] | null;
        for (const [, entries] of reply ?? []) await handle(entries);
        failures = 0;
      } catch (err) {
        if (closing) break;
        if (err instanceof Error && /NOGROUP/.test(err.message)) ready = false;
        failures++;
        if (failures === 1 || failures % 20 === 0)
          log.warn({ err, failures }, 'webhook feeder failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)));
      }
    }
  }

  const loop = run();
  return {
    async close() {
      closing = true;
      blocking.disconnect();
      await loop;
      await queue.close();
    },
  };
}
