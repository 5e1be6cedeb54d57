import { DelayedError, Job, Queue, UnrecoverableError, type ConnectionOptions } from 'bullmq';
import { isCluster, type RedisClient } from '../RedisClient.ts';
import type { Logger } from 'pino';
import type pg from 'pg';
import { validateOperation } from '../validation/validateOperation.ts';
import { checkSignal } from '../validation/checkSignal.ts';
import { echoId } from '../../machines/echoId.ts';
import type { NormalizedSignal } from '../../machines/signalContext.ts';
import { signalClosed, signalUnknown } from '../../machines/operations.ts';
import { describeErrors, trackerError, type TrackerError } from '../errors.ts';
import { checkLiveTime, screenPayload, type LiveGuards } from '../validation/screenPayload.ts';
import { checkStorable } from '../validation/checkStorable.ts';
import { findAccepted } from '../storage/findAccepted.ts';
import { markForwarded } from '../storage/markForwarded.ts';
import {
  recordAcceptedBatch,
  type AcceptedRecord,
  type AcceptedSubmission,
} from '../storage/recordAcceptedBatch.ts';
import { recordRejected } from '../storage/recordRejected.ts';
import { recordRejectedOperation } from '../storage/recordRejectedOperation.ts';
import {
  EventKeys,
  forwardedOpJobId,
  IntakeKeys,
  JOB_NAMES,
  QUEUE_NAMES,
  queueNameOn,
  ShardKeys,
  shardOf,
  signalJobId,
} from '../names.ts';
import { publishEvents, type EventRetention } from '../events/publishEvents.ts';
import type { KeyedEvent } from '../events/TrackerEvent.ts';
import { registrationJobs } from './messages.ts';
import { createBatcher, type ItemOutcome } from './createBatcher.ts';
import {
  createTransientRetry,
  isTransientRedisError,
  TransientBudgetError,
  type OutageState,
} from '../storage/retryTransient.ts';
import { createShardQueues } from './shardQueues.ts';
import { repairJobData, TolerantWorker, UnparseableJobData } from './TolerantWorker.ts';

export { SHARD_JOB_OPTIONS } from './shardQueues.ts';

/** How long finished intake jobs stay in Redis for Bull Board (KEEP_* settings). */
export interface JobRetention {
  removeOnComplete: { count: number; age: number };
  removeOnFail: { count: number; age: number };
}

export interface IntakeOptions {
  connection: ConnectionOptions;
  /** A Redis client for the intake's own keys (outage flag, operations waiting for their signal). */
  redis: RedisClient;
  prefix: string;
  pool: pg.Pool;
  shards: number;
  concurrency: number;
  /** How long an operation waits for its signal to be accepted before it is rejected as unknown. @defaultValue 30000 */
  opWaitMs?: number;
  /** How long a job waits out a PostgreSQL outage before it fails (TRANSIENT_RETRY_MS). @defaultValue 900000 */
  transientRetryMs?: number;
  /**
   * Stalls an intake job survives (MAX_STALLED_COUNT): a job whose worker died or froze holding
   * it is run again, which stores and forwards nothing twice. BullMQ's default, 1, failed a
   * submission whose worker died twice while it waited out an outage (found by the fault
   * campaign), and a failed track-signal job is a signal lost. @defaultValue 1000000
   */
  maxStalledCount?: number;
  /** Live-only input guards (MAX_PAYLOAD_BYTES, MIN_EPOCH_MS, MAX_CLOCK_SKEW_MS). */
  guards?: Partial<LiveGuards>;
  /** @defaultValue 1000 completed for at most an hour, failed for a day */
  retention?: JobRetention;
  log: Logger;
  /** The wall clock (injected: only process wiring reads Date.now). */
  now: () => number;
  /**
   * Publish `signal.accepted` and `signal.rejected` to the events stream once PostgreSQL has
   * committed them (EVENTS_RETENTION…). Absent: no events.
   */
  events?: EventRetention;
  /** Told of what each job stores or rejects (metrics). */
  metrics?: IntakeMetrics;
}

/** What the intake tells the process's metrics. */
export interface IntakeMetrics {
  /**
   * A signal stored: as accepted, or as rejected with its first error's code (a resubmitted id
   * is stored as rejected with DUPLICATE_ID). A job BullMQ runs again stores, and tells, nothing new.
   */
  signal(result: 'accepted' | 'rejected', code?: string): void;
  /** A signal-ops job rejected here, before its shard (bad shape, signal unknown, closed or unregistered). */
  operationRejected(op: string | null): void;
}

const OP_RETRY_MS = 100;
/**
 * Batches of accepted signals committing at once. Two: while one waits for PostgreSQL the next
 * one fills, and the one after waits for either (group commit).
 */
const BATCHES_IN_FLIGHT = 2;
/** The outage flag outlives the last retry by this much, so a dead worker's flag goes by itself. */
const OUTAGE_FLAG_TTL_MS = 60_000;

export const DEFAULT_GUARDS: LiveGuards = {
  maxPayloadBytes: 65_536,
  minEpochMs: 946_684_800_000,
  maxClockSkewMs: 300_000,
};

export const DEFAULT_RETENTION: JobRetention = {
  removeOnComplete: { count: 1000, age: 3600 },
  removeOnFail: { count: 100_000, age: 86_400 },
};

/**
 * The intake side of the upstream contract (docs/QUEUES.md):
 * - `track-signal`: validate; store the signal (accepted, or rejected with every reason);
 *   then register an accepted one on its shard. A rejected job fails once, unrecoverably,
 *   naming the problems, and stays in Bull Board. A second submission of an id is a no-op.
 * - `signal-ops`: check the operation's shape and that its signal is registered, then forward
 *   it to the signal's shard, where the machine decides; rejections are stored with reasons.
 *
 * PostgreSQL being down is not bad input: every job waits it out (TRANSIENT_RETRY_MS), and
 * `/health` shows the intake degraded meanwhile. Only bad input fails a job.
 */
export function createIntakeWorkers(options: IntakeOptions): {
  workers: TolerantWorker[];
  close(): Promise<void>;
} {
  const opts = {
    ...options,
    opWaitMs: options.opWaitMs ?? 30_000,
    guards: { ...DEFAULT_GUARDS, ...options.guards },
    retention: options.retention ?? DEFAULT_RETENTION,
    now: options.now,
  };
  const keys = new IntakeKeys(opts.prefix);
  const eventKeys = new EventKeys(opts.prefix);
  /** Publishes one event after its row committed; a failure fails the job, which runs again. */
  async function publish(event: KeyedEvent): Promise<void> {
    if (opts.events !== undefined)
      await redisRetry.run(() => publishEvents(opts.redis, eventKeys, [event], opts.events!, opts.now));
  }
  const cluster = isCluster(opts.connection);
  const shardQueues = createShardQueues({
    connection: opts.connection,
    prefix: opts.prefix,
    onError: (err, shard) => opts.log.error({ err, shard }, 'shard queue error'),
  });
  const opsQueue = new Queue(queueNameOn(QUEUE_NAMES.signalOps, cluster), {
    connection: opts.connection,
    prefix: opts.prefix,
  });
  opsQueue.on('error', (err) => opts.log.error({ err }, 'signal-ops queue error'));
  // Read only: whether an operation's signal is still queued (see signalOnItsWay).
  const trackQueue = new Queue(queueNameOn(QUEUE_NAMES.trackSignal, cluster), {
    connection: opts.connection,
    prefix: opts.prefix,
  });
  trackQueue.on('error', (err) => opts.log.error({ err }, 'track-signal queue error'));
  // Operations on one signal must reach its shard in arrival order, whichever worker process
  // takes them: one signal-ops job at a time across all processes.
  opsQueue
    .setGlobalConcurrency(1)
    .catch((err: unknown) => opts.log.error({ err }, 'could not set the concurrency of signal-ops'));

  // Redis refusing writes for a while (at its maxmemory, loading after a restart) is not bad
  // input either: the job's Redis steps wait it out too, instead of failing the job and
  // losing its signal's registration or its operation (found by the fault campaign).
  const redisRetry = createTransientRetry({
    log: opts.log.child({ component: 'intake' }),
    dependency: 'Redis',
    budgetMs: options.transientRetryMs ?? 900_000,
    now: opts.now,
    isTransient: isTransientRedisError,
  });
  const retry = createTransientRetry({
    log: opts.log.child({ component: 'intake' }),
    dependency: 'PostgreSQL',
    budgetMs: options.transientRetryMs ?? 900_000,
    now: opts.now,
    onState: (state) => publishOutage(state),
  });
  function publishOutage(state: OutageState | null): void {
    const write =
      state === null
        ? opts.redis.del(keys.outage)
        : opts.redis.set(keys.outage, JSON.stringify(state), 'PX', OUTAGE_FLAG_TTL_MS);
    write.catch((err: unknown) => opts.log.warn({ err }, 'could not publish the intake outage flag'));
  }

  const workerOptions = {
    connection: opts.connection,
    prefix: opts.prefix,
    removeOnComplete: opts.retention.removeOnComplete,
    removeOnFail: opts.retention.removeOnFail,
    maxStalledCount: options.maxStalledCount ?? 1_000_000,
  };

  /**
   * Stores a batch of accepted signals in one transaction, then (after COMMIT) registers the
   * new ones on their shards (one addBulk a shard), publishes their events and marks them
   * forwarded. A registration must never reach a shard for a row that was not committed; a
   * crash after COMMIT leaves rows unforwarded, and BullMQ runs their jobs again: they register
   * then (the shard refuses a repeat, and one whose outcome PostgreSQL already holds is not
   * sent at all).
   */
  async function trackBatch(items: AcceptedSubmission[]): Promise<ItemOutcome<TrackResult>[]> {
    let records: AcceptedRecord[];
    try {
      records = await retry.run(() => recordAcceptedBatch(opts.pool, items));
    } catch (err) {
      if (items.length === 1 || err instanceof TransientBudgetError) throw err;
      // Not transient: something PostgreSQL refuses in one submission. Each on its own, so
      // that only its own job fails.
      return Promise.all(
        items.map((item) =>
          trackBatch([item]).then(
            (o) => o[0]!,
            (error: unknown) => ({ ok: false as const, error }),
          ),
        ),
      );
    }
    for (const r of records) {
      if (r.inserted) opts.metrics?.signal('accepted');
      else if (r.duplicate) opts.metrics?.signal('rejected', 'DUPLICATE_ID');
    }
    const fresh = records.filter((r) => !r.duplicate && !r.forwarded);
    const byShard = new Map<number, NormalizedSignal[]>();
    for (const r of fresh) {
      if (r.closed) continue; // PostgreSQL answers for it: the shard need not hear of it.
      const shard = shardOf(r.signal.symbol, opts.shards);
      const signals = byShard.get(shard) ?? [];
      signals.push(r.signal);
      byShard.set(shard, signals);
    }
    await Promise.all(
      [...byShard].map(([shard, signals]) =>
        redisRetry.run(() => shardQueues.addBulk(shard, registrationJobs(signals))),
      ),
    );
    // Before markForwarded, for the same reason: a crash in between publishes them again (the
    // same keys), never not at all.
    if (opts.events !== undefined && fresh.length > 0) {
      const events = fresh.map((r) => acceptedEvent(r.signal));
      await redisRetry.run(() => publishEvents(opts.redis, eventKeys, events, opts.events!, opts.now));
    }
    await retry.run(() =>
      markForwarded(
        opts.pool,
        fresh.map((r) => r.signal.id),
      ),
    );
    return records.map((r) => ({
      ok: true,
      value: { id: r.signal.id, shard: shardOf(r.signal.symbol, opts.shards), duplicate: r.duplicate },
    }));
  }
  const accepted = createBatcher<AcceptedSubmission, TrackResult>({
    maxSize: opts.concurrency,
    maxInFlight: BATCHES_IN_FLIGHT,
    run: trackBatch,
  });

  const signals = new TolerantWorker(
    queueNameOn(QUEUE_NAMES.trackSignal, cluster),
    async (job) => {
      await repairJobData(job);
      const jobId = job.id ?? null;
      const checked =
        job.data instanceof UnparseableJobData ? null : checkSignal(job.data, opts.guards, opts.now());
      const id = checked === null ? null : checked.ok ? checked.signal.id : checked.id;
      if (checked === null || !checked.ok) {
        const errors = checked === null ? [notJson(job.data as UnparseableJobData)] : checked.errors;
        const payload = job.data instanceof UnparseableJobData ? { raw: job.data.raw } : job.data;
        await retry.run(() => recordRejected(opts.pool, payload, id, errors, jobId));
        await publish(rejectedEvent(payload, id, errors, jobId, opts.now()));
        opts.log.info(
          { queue: QUEUE_NAMES.trackSignal, jobId, signalId: id === null ? null : echoId(id), errors },
          'signal rejected',
        );
        opts.metrics?.signal('rejected', errors[0]?.code);
        throw new UnrecoverableError(
          `rejected signal ${id === null ? '(no id)' : echoId(id)}: ${describeErrors(errors)}`,
        );
      }
      // Completes only once its batch has committed and registered it on its shard.
      return accepted.submit({ signal: checked.signal, payload: job.data, jobId });
    },
    { ...workerOptions, concurrency: opts.concurrency },
  );

  const ops = new TolerantWorker(
    queueNameOn(QUEUE_NAMES.signalOps, cluster),
    async (job, token) => {
      const jobId = job.id!;
      await repairJobData(job);
      const data = job.data;
      const checked = data instanceof UnparseableJobData ? null : validateOperation(data);
      const errors: TrackerError[] =
        checked === null
          ? [notJson(data as UnparseableJobData)]
          : [
              ...(checked.ok ? [] : checked.errors),
              ...screenPayload(data, opts.guards),
              ...(checked.ok ? [checkLiveTime('ts', checked.op.ts, opts.guards, opts.now())] : []).filter(
                (e) => e !== null,
              ),
            ];
      if (checked === null || !checked.ok || errors.length > 0) {
        const id = checked !== null && !checked.ok ? checked.id : checked?.ok ? checked.op.id : null;
        const payload = data instanceof UnparseableJobData ? { raw: data.raw } : data;
        await retry.run(() => recordRejectedOperation(opts.pool, payload, id, errors, jobId));
        opts.metrics?.operationRejected(checked?.ok ? checked.op.op : null);
        throw new UnrecoverableError(`rejected operation: ${describeErrors(errors)}`);
      }
      const op = checked.op;
      const waitKey = keys.opsWaiting(op.id);
      /** The job's wait start (its progress), set now if this is its first look that reached PostgreSQL. */
      const startWait = async (): Promise<number> => {
        const since = waitingSince(job);
        if (since !== null) return since;
        const now = opts.now();
        await redisRetry.run(() => job.updateProgress({ waitingSince: now }));
        return now;
      };
      const waitLater = async (): Promise<never> => {
        await redisRetry.run(() => job.moveToDelayed(opts.now() + OP_RETRY_MS, token));
        throw new DelayedError();
      };

      // Earlier operations of this signal still waiting go first.
      const head = await redisRetry.run(() => opts.redis.lindex(waitKey, 0));
      if (head !== null && head !== jobId) {
        if (await isFinished(head)) await redisRetry.run(() => opts.redis.lrem(waitKey, 1, head));
        else if ((await opts.redis.lpos(waitKey, jobId)) === null)
          await redisRetry.run(() => opts.redis.rpush(waitKey, jobId));
        // Its own wait starts now, at its first look that reaches PostgreSQL, not when the
        // operations ahead of it are done: N operations on a signal that never comes are
        // rejected one OP_WAIT_FOR_SIGNAL_MS after they arrived, not N of them later (found by
        // the fault campaign: four such operations held signal-ops for two minutes).
        if (waitingSince(job) === null) {
          await retry.run(() => findAccepted(opts.pool, op.id));
          await startWait();
        }
        return waitLater();
      }

      const signal = await retry.run(() => findAccepted(opts.pool, op.id));
      if (signal?.closed === true) {
        const shard = shardOf(signal.symbol, opts.shards);
        if (await forwardedBefore(shard, jobId)) {
          // A run of this job before forwarded the operation and died before completing (BullMQ
          // runs it again), and the operation closed its signal (a cancel, an exit): the shard
          // has it, and its answer is the one stored, not a second one here (found by the fault
          // campaign: an operation with an audit row too many).
          if (head === jobId) await redisRetry.run(() => opts.redis.lrem(waitKey, 1, jobId));
          return { id: op.id, shard };
        }
        // Its outcome is committed: the shard may have forgotten it already (Redis keeps only open signals).
        const reason = signalClosed(op.id);
        await retry.run(() => recordRejectedOperation(opts.pool, data, op.id, [reason], jobId));
        opts.metrics?.operationRejected(op.op);
        if (head === jobId) await redisRetry.run(() => opts.redis.lrem(waitKey, 1, jobId));
        throw new UnrecoverableError(`rejected operation: ${describeErrors([reason])}`);
      }
      if (signal === null || !signal.forwarded) {
        // Upstream may send an operation right behind its signal: wait (delayed retries, not
        // counted as attempts) before calling it unknown. The wait counts from the first look
        // that reached PostgreSQL, so an outage does not use it up.
        const since = await startWait();
        // A stored signal whose registration is on its way gets as long as its intake job has,
        // and so does one still queued on track-signal under its recommended job id (a backlog
        // after an outage can hold it far longer than OP_WAIT_FOR_SIGNAL_MS).
        const limit =
          signal === null && !(await signalOnItsWay(op.id))
            ? opts.opWaitMs
            : (options.transientRetryMs ?? 900_000);
        if (opts.now() - since < limit) {
          if (head === null) await redisRetry.run(() => opts.redis.rpush(waitKey, jobId));
          return waitLater();
        }
        // The same words as replay's; how long it waited is the log's business.
        const reason =
          signal === null
            ? signalUnknown(op.id)
            : trackerError(
                'SIGNAL_UNREGISTERED',
                `signal ${echoId(op.id)} was accepted but never registered on its shard (its track-signal job failed)`,
              );
        opts.log.info(
          {
            queue: QUEUE_NAMES.signalOps,
            jobId,
            signalId: echoId(op.id),
            code: reason.code,
            waitedMs: opts.now() - since,
          },
          'operation rejected: its signal did not arrive in time',
        );
        await retry.run(() => recordRejectedOperation(opts.pool, data, op.id, [reason], jobId));
        opts.metrics?.operationRejected(op.op);
        await redisRetry.run(() => opts.redis.lrem(waitKey, 1, jobId));
        throw new UnrecoverableError(`rejected operation: ${describeErrors([reason])}`);
      }
      const shard = shardOf(signal.symbol, opts.shards);
      await redisRetry.run(() =>
        shardQueues.add(
          shard,
          JOB_NAMES.operation(op.op, op.id),
          { kind: 'op', op },
          { jobId: forwardedOpJobId(jobId) },
        ),
      );
      if (head === jobId) await redisRetry.run(() => opts.redis.lrem(waitKey, 1, jobId));
      return { id: op.id, shard };
    },
    { ...workerOptions, concurrency: 1 },
  );

  /**
   * Whether signal-ops job `jobId` forwarded its operation to `shard` before: its shard job is
   * still queued or kept, or the shard lists it among the operations it applied.
   */
  async function forwardedBefore(shard: number, jobId: string): Promise<boolean> {
    const forwarded = forwardedOpJobId(jobId);
    if ((await redisRetry.run(() => Job.fromId(shardQueues.queue(shard), forwarded))) !== undefined)
      return true;
    // applied-custom: where a worker before applied-ops kept it.
    const keys = new ShardKeys(opts.prefix, shard);
    for (const applied of [keys.appliedOps, keys.appliedCustom])
      if ((await redisRetry.run(() => opts.redis.lpos(applied, forwarded))) !== null) return true;
    return false;
  }

  /**
   * Whether signal `id` is still queued on track-signal under its recommended job id
   * (`signalJobId`, docs/QUEUES.md; what `POST /v1/signals` uses): waiting, delayed or running.
   */
  async function signalOnItsWay(id: string): Promise<boolean> {
    const job = await redisRetry.run(() => Job.fromId(trackQueue, signalJobId(id)));
    if (job === undefined) return false;
    const state = await redisRetry.run(() => job.getState());
    return ['waiting', 'delayed', 'prioritized', 'active', 'waiting-children'].includes(state);
  }

  /** Whether a signal-ops job has left the queue for good (a stale head of a waiting list). */
  async function isFinished(jobId: string): Promise<boolean> {
    const job = await Job.fromId(opsQueue, jobId);
    if (job === undefined) return true;
    const state = await job.getState();
    return state === 'completed' || state === 'failed' || state === 'unknown';
  }

  for (const w of [signals, ops])
    w.on('error', (err) => opts.log.error({ err, queue: w.name }, 'intake worker error'));
  return {
    workers: [signals, ops],
    async close() {
      await Promise.all([signals.close(), ops.close()]);
      await Promise.all([shardQueues.close(), opsQueue.close(), trackQueue.close()]);
    },
  };
}

/** What a completed track-signal job returns. */
interface TrackResult {
  id: string;
  shard: number;
  /** Another submission of an accepted id: stored as rejected, not tracked again. */
  duplicate: boolean;
}

/** Job data that is not JSON, as a rejection. */
function notJson(data: UnparseableJobData): TrackerError {
  return trackerError('PAYLOAD_NOT_JSON', `payload: ${data.describe()}`);
}

function waitingSince(job: Job): number | null {
  const p = job.progress as { waitingSince?: unknown } | number | null;
  return typeof p === 'object' && p !== null && typeof p.waitingSince === 'number' ? p.waitingSince : null;
}

/** The `signal.accepted` event of a newly stored signal (docs/API.md "Live stream"). */
function acceptedEvent(signal: NormalizedSignal): KeyedEvent {
  return {
    key: `accepted:${signal.id}`,
    event: {
      type: 'signal.accepted',
      id: signal.id,
      tenant: signal.tenant,
      symbol: signal.symbol,
      ...(signal.strategy !== undefined && { strategy: signal.strategy }),
      ...(signal.model !== undefined && { model: signal.model }),
      ts: signal.createdAt,
      data: { signal },
    },
  };
}

/**
 * The `signal.rejected` event of a stored rejection. Its tenant, symbol, strategy and model are
 * what the payload claims, where it has them; `ts` is its createdAt if that is a number, else
 * the time of the rejection.
 */
function rejectedEvent(
  payload: unknown,
  id: string | null,
  errors: readonly TrackerError[],
  jobId: string | null,
  now: number,
): KeyedEvent {
  const p = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  // Only text PostgreSQL can hold: the webhook feeder looks the tenant up, and a NUL there
  // failed its query on every retry, stopping every tenant's webhooks.
  const text = (x: unknown): string | undefined =>
    typeof x === 'string' && x !== '' && checkStorable(x.slice(0, 200)).length === 0
      ? x.slice(0, 200)
      : undefined;
  const strategy = text(p.strategy);
  const model = text(p.model);
  const createdAt = p.createdAt;
  return {
    key: `rejected:${jobId ?? id ?? ''}`,
    event: {
      type: 'signal.rejected',
      id: id === null ? '' : echoId(id),
      tenant: text(p.tenant) ?? 'default',
      symbol: (text(p.symbol) ?? '').toUpperCase(),
      ...(strategy !== undefined && { strategy }),
      ...(model !== undefined && { model }),
      ts: typeof createdAt === 'number' && Number.isSafeInteger(createdAt) ? createdAt : now,
      data: { errors: errors.map((e) => e.message), codes: errors.map((e) => e.code) },
    },
  };
}
