/**
 * Jobs as a producer in another language can leave them: BullMQ stores job data as text in the
 * job's hash (`<prefix>:<queue>:<id>`, field `data`), and only a JavaScript producer is bound to
 * write JSON there. Python's `json.dumps` writes `NaN`; a producer may write anything.
 */
import type { JobsOptions, Queue } from 'bullmq';
import type { RedisClient } from '../../src/RedisClient.ts';

/**
 * Adds a job to `queue` whose stored data is exactly `raw`: the queue is paused, a placeholder
 * job added and its `data` field overwritten, then the queue resumed (unless it was paused
 * already), so that no worker sees the placeholder. `redis` is a client on the queue's Redis.
 * Returns the job id.
 */
export async function addRawJob(
  redis: RedisClient,
  queue: Queue,
  name: string,
  raw: string,
  opts?: JobsOptions,
): Promise<string> {
  const wasPaused = await queue.isPaused();
  if (!wasPaused) await queue.pause();
  try {
    const job = await queue.add(name, { placeholder: true }, opts);
    await redis.hset(queue.toKey(job.id!), 'data', raw);
    return job.id!;
  } finally {
    if (!wasPaused) await queue.resume();
  }
}

/**
 * How BullMQ recorded a finished job, read from its hash: `Queue.getJob` and `getFailed` parse
 * the data, which for a raw job is not JSON, and would throw.
 */
export async function rawJobRecord(
  redis: RedisClient,
  queue: Queue,
  jobId: string,
): Promise<{
  state: string;
  attemptsMade: number;
  failedReason: string | null;
  stacktrace: string[];
  returnvalue: unknown;
}> {
  const [atm, failedReason, stacktrace, returnvalue] = await redis.hmget(
    queue.toKey(jobId),
    'atm',
    'failedReason',
    'stacktrace',
    'returnvalue',
  );
  return {
    state: await queue.getJobState(jobId),
    attemptsMade: Number(atm ?? 0),
    failedReason: failedReason ?? null,
    stacktrace: stacktrace == null ? [] : (JSON.parse(stacktrace) as string[]),
    returnvalue: returnvalue == null ? null : (JSON.parse(returnvalue) as unknown),
  };
}
