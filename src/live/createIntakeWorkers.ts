import { DelayedError, Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import type pg from 'pg';
import { validateOperation } from '../validation/validateOperation.ts';
import { validateSignal } from '../validation/validateSignal.ts';
import {
  findAccepted,
  recordAccepted,
  recordRejected,
  recordRejectedOperation,
} from '../storage/signalStore.ts';
import { QUEUE_NAMES, shardOf, shardQueueName } from './keys.ts';
import type { ShardJobData } from './messages.ts';

export interface IntakeOptions {
  connection: ConnectionOptions;
  prefix: string;
  pool: pg.Pool;
  shards: number;
  concurrency: number;
  /** How long an operation waits for its signal to be accepted before it is rejected as unknown. @defaultValue 30000 */
  opWaitMs?: number;
  log: Logger;
}

const OP_RETRY_MS = 100;

/** Job options of shard jobs: keep a little history for Bull Board, never retry (order). */
export const SHARD_JOB_OPTIONS = {
  removeOnComplete: { count: 200 },
  removeOnFail: false,
  attempts: 1,
} as const;

/**
 * The intake side of the upstream contract (docs/QUEUES.md):
 * - `track-signal`: validate; store the signal (accepted, or rejected with every reason);
 *   forward an accepted one to its shard. A rejected job fails once, unrecoverably, naming
 *   the problems, and stays in Bull Board. A second submission of an id is a no-op (the
 *   shard ignores a registration it has seen; the stored payload is the one forwarded).
 * - `signal-ops`: check the operation's shape and that its signal exists, then forward it to
 *   the signal's shard, where the machine decides; rejections are stored with reasons.
 */
export function createIntakeWorkers(options: IntakeOptions): { workers: Worker[]; close(): Promise<void> } {
  const opts = { ...options, opWaitMs: options.opWaitMs ?? 30_000 };
  const shardQueues = new Map<number, Queue<ShardJobData>>();
  const shardQueue = (n: number): Queue<ShardJobData> => {
    let q = shardQueues.get(n);
    if (q === undefined) {
      q = new Queue<ShardJobData>(shardQueueName(n), { connection: opts.connection, prefix: opts.prefix });
      q.on('error', (err) => opts.log.error({ err, shard: n }, 'shard queue error'));
      shardQueues.set(n, q);
    }
    return q;
  };

  const signals = new Worker(
    QUEUE_NAMES.trackSignal,
    async (job) => {
      const log = opts.log.child({ queue: QUEUE_NAMES.trackSignal, jobId: job.id });
      const checked = validateSignal(job.data);
      if (!checked.ok) {
        await recordRejected(opts.pool, job.data, checked.id, checked.errors, job.id ?? null);
        log.info({ signalId: checked.id, errors: checked.errors }, 'signal rejected');
        throw new UnrecoverableError(
          `rejected signal ${checked.id ?? '(no id)'}: ${checked.errors.join('; ')}`,
        );
      }
      const shard = shardOf(checked.signal.symbol, opts.shards);
      // Registered on the shard before the row commits: an operation that finds the row then
      // reaches the shard queue behind the registration. (A crash in between leaves a
      // registration without a row; BullMQ retries the job, and the shard ignores the repeat.)
      const stored = await recordAccepted(opts.pool, checked.signal, job.data, job.id ?? null, (signal) =>
        shardQueue(shard)
          .add('register', { kind: 'register', signal }, SHARD_JOB_OPTIONS)
          .then(() => undefined),
      );
      return { id: stored.signal.id, shard, duplicate: stored.duplicate };
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency },
  );

  const ops = new Worker(
    QUEUE_NAMES.signalOps,
    async (job, token) => {
      const checked = validateOperation(job.data);
      if (!checked.ok) {
        await recordRejectedOperation(opts.pool, job.data, checked.id, checked.errors, job.id ?? null);
        throw new UnrecoverableError(`rejected operation: ${checked.errors.join('; ')}`);
      }
      const signal = await findAccepted(opts.pool, checked.op.id);
      if (signal === null && Date.now() - job.timestamp < opts.opWaitMs) {
        // Upstream may send an operation right behind its signal, before the intake has
        // stored it: wait (a delayed retry, not counted as an attempt) before calling it unknown.
        await job.moveToDelayed(Date.now() + OP_RETRY_MS, token);
        throw new DelayedError();
      }
      if (signal === null) {
        const errors = [
          `unknown signal ${checked.op.id} (not accepted within ${opts.opWaitMs} ms of the operation)`,
        ];
        await recordRejectedOperation(opts.pool, job.data, checked.op.id, errors, job.id ?? null);
        throw new UnrecoverableError(`rejected operation: ${errors[0]}`);
      }
      const shard = shardOf(signal.symbol, opts.shards);
      await shardQueue(shard).add(checked.op.op, { kind: 'op', op: checked.op }, SHARD_JOB_OPTIONS);
      return { id: checked.op.id, shard };
    },
    // One at a time: operations on one signal keep their arrival order on the way to its shard.
    { connection: opts.connection, prefix: opts.prefix, concurrency: 1 },
  );

  for (const w of [signals, ops])
    w.on('error', (err) => opts.log.error({ err, queue: w.name }, 'intake worker error'));
  return {
    workers: [signals, ops],
    async close() {
      await Promise.all([signals.close(), ops.close()]);
      await Promise.all([...shardQueues.values()].map((q) => q.close()));
    },
  };
}
