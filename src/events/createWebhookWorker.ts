import http from 'node:http';
import https from 'node:https';
import { UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import type pg from 'pg';
import type { Logger } from 'pino';
import { coerceError } from '../errors.ts';
import { findWebhook } from '../storage/findWebhook.ts';
import { insertWebhookDelivery } from '../storage/insertWebhookDelivery.ts';
import { QUEUE_NAMES, queueNameOn } from '../names.ts';
import { isCluster } from '../RedisClient.ts';
import { createTransientRetry } from '../storage/retryTransient.ts';
import type { WebhookJobData } from './createWebhookFeeder.ts';
import { PrivateAddressError, publicOnlyLookup } from './publicAddress.ts';
import { signWebhook } from './signWebhook.ts';

export interface WebhookWorkerOptions {
  connection: ConnectionOptions;
  prefix: string;
  pool: pg.Pool;
  log: Logger;
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** WEBHOOK_TIMEOUT_MS. */
  timeoutMs: number;
  /** Deliveries in flight per process. @defaultValue 16 */
  concurrency?: number;
  /**
   * How long a delivery waits out a PostgreSQL outage (reading its webhook, recording its
   * attempt) before the attempt fails (TRANSIENT_RETRY_MS). @defaultValue 900000
   */
  transientRetryMs?: number;
  /**
   * Stalls a delivery survives (MAX_STALLED_COUNT): one whose worker died or froze holding it
   * is attempted again, as a retry is (the receiver deduplicates on X-OT-Delivery). BullMQ's
   * default, 1, fails it for good at the second stall, with attempts left. @defaultValue 1000000
   */
  maxStalledCount?: number;
  /**
   * The delivery's job lock (LOCK_DURATION_MS), also how often stalled deliveries are looked
   * for: a worker that dies during an attempt gives its delivery up after this long.
   * @defaultValue 30000
   */
  lockDurationMs?: number;
  now?: () => number;
}

/** What one attempt got. */
interface Answer {
  statusCode: number | null;
  error: string | null;
}

/**
 * Delivers `webhooks` jobs (docs/API.md "Webhooks"): POSTs the event, signed, to the webhook's
 * URL; a 2xx answer completes the job, anything else fails the attempt, and BullMQ retries it
 * with exponential backoff until WEBHOOK_MAX_ATTEMPTS. Each attempt is recorded in
 * `webhook_deliveries` once, numbered by the times its job was started: a delivery run again
 * after its worker stalled is a new attempt (its POST was sent again), and recording an attempt
 * again (a retried insert whose first commit went through) adds no second row. The address is
 * checked when the socket connects (not only when the webhook was created): a name that now
 * resolves to a private address is refused.
 *
 * PostgreSQL being down is not the receiver's failure: reading the webhook and recording the
 * attempt wait it out (TRANSIENT_RETRY_MS) instead of spending the delivery's attempts, which
 * an outage longer than their backoff would otherwise use up, and the delivery with them.
 */
export function createWebhookWorker(opts: WebhookWorkerOptions): Worker<WebhookJobData> {
  const log = opts.log.child({ queue: QUEUE_NAMES.webhooks });
  const now = opts.now ?? Date.now;
  const retry = createTransientRetry({
    log,
    dependency: 'PostgreSQL',
    budgetMs: opts.transientRetryMs ?? 900_000,
    now,
  });
  const worker = new Worker<WebhookJobData>(
    queueNameOn(QUEUE_NAMES.webhooks, isCluster(opts.connection)),
    async (job) => {
      const d = job.data;
      const webhook = await retry.run(() => findWebhook(opts.pool, d.webhookId));
      if (webhook === null || webhook.deleted) return { skipped: 'webhook deleted' };
      const started = now();
      const timestamp = Math.floor(started / 1000);
      const answer = await post(webhook.url, d.body, {
        'content-type': 'application/json',
        'user-agent': 'outcome-tracker-webhooks/1',
        'x-ot-delivery': d.deliveryId,
        'x-ot-event': d.eventType,
        'x-ot-timestamp': String(timestamp),
        'x-ot-signature': signWebhook(webhook.secret, timestamp, d.body),
      });
      const durationMs = now() - started;
      await retry.run(() =>
        insertWebhookDelivery(opts.pool, {
          webhookId: d.webhookId,
          deliveryId: d.deliveryId,
          eventKey: d.eventKey,
          eventType: d.eventType,
          // BullMQ counts every start, stalls included. attemptsMade counts only the runs that
          // ended (a stalled one never does): by it, a delivery run again after a stall would
          // record the number of the attempt before it.
          attempt: Math.max(job.attemptsStarted, job.attemptsMade + 1),
          statusCode: answer.statusCode,
          error: answer.error,
          durationMs,
        }),
      );
      if (answer.statusCode !== null && answer.statusCode >= 200 && answer.statusCode < 300)
        return { statusCode: answer.statusCode };
      const reason = answer.error ?? `the receiver answered ${answer.statusCode}`;
      if (answer.error?.startsWith('PrivateAddressError')) throw new UnrecoverableError(reason);
      throw new Error(reason);
    },
    {
      connection: opts.connection,
      prefix: opts.prefix,
      concurrency: opts.concurrency ?? 16,
      maxStalledCount: opts.maxStalledCount ?? 1_000_000,
      lockDuration: opts.lockDurationMs ?? 30_000,
      stalledInterval: opts.lockDurationMs ?? 30_000,
    },
  );
  worker.on('error', (err) => log.error({ err }, 'webhooks worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ err, jobId: job?.id, attempts: job?.attemptsMade }, 'webhook delivery attempt failed'),
  );

  function post(target: string, body: string, headers: Record<string, string>): Promise<Answer> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return resolve({ statusCode: null, error: 'not a URL' });
      }
      const send = url.protocol === 'https:' ? https.request : http.request;
      const req = send(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: opts.timeoutMs,
          ...(!opts.allowPrivate && { lookup: publicOnlyLookup }),
        },
        (res) => {
          res.resume(); // the body is not read: only the status counts
          res.on('end', () => resolve({ statusCode: res.statusCode ?? null, error: null }));
          res.on('error', () => resolve({ statusCode: res.statusCode ?? null, error: null }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
      req.on('error', (err) => {
        const e = coerceError(err);
        resolve({
          statusCode: null,
          error: err instanceof PrivateAddressError ? `PrivateAddressError: ${e.message}` : e.message,
        });
      });
      req.end(body);
    });
  }

  return worker;
}
