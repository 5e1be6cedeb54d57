import { Worker, type Job } from 'bullmq';
import { coerceError } from '../errors.ts';

/** How much of an unparseable job's raw data is kept for the record. */
const RAW_KEPT = 4096;

/**
 * The data of a job whose stored data is not JSON (Python's `json.dumps` writes `NaN` and
 * `Infinity` by default): the raw text (its first 4 KiB) and the parser's complaint.
 */
export class UnparseableJobData {
  constructor(
    readonly raw: string,
    readonly error: string,
  ) {}

  /** What is stored in the job's place, so that BullMQ (and Bull Board) can read the job again. */
  toJSON(): { unparseable: string; error: string } {
    return { unparseable: this.raw, error: this.error };
  }

  /** One line for stored rejections and poison records. */
  describe(): string {
    return `job data is not valid JSON (${this.error})`;
  }
}

/**
 * A BullMQ Worker that survives a job whose data cannot be parsed. BullMQ parses job data
 * before the processor runs; when that throws, the job stays active, stalls, and is fetched
 * again forever (a shard stops). Here such a job reaches the processor with an
 * {@link UnparseableJobData} as its data, and the processor records it like any bad input.
 */
/**
 * Replaces a job's unparseable data in Redis with {@link UnparseableJobData.toJSON}: left as it
 * was, the finished job would break every listing of its queue (Bull Board's included), since
 * BullMQ parses the data of each job it lists.
 */
export async function repairJobData(job: Job<unknown>): Promise<void> {
  if (!(job.data instanceof UnparseableJobData)) return;
  // Best effort: a failure here costs a readable listing, never the job's outcome.
  await job.updateData(job.data).catch(() => {});
}

export class TolerantWorker<D = unknown, R = unknown> extends Worker<D | UnparseableJobData, R> {
  protected override createJob(
    data: Parameters<Worker['createJob']>[0],
    jobId: string,
  ): Job<D | UnparseableJobData, R, string> {
    try {
      return super.createJob(data, jobId);
    } catch (err) {
      const raw = typeof data.data === 'string' ? data.data : String(data.data);
      const job = super.createJob({ ...data, data: '{}' }, jobId);
      job.data = new UnparseableJobData(
        raw.length > RAW_KEPT ? `${raw.slice(0, RAW_KEPT)}…` : raw,
        coerceError(err).message,
      );
      return job;
    }
  }
}
