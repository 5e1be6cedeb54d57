import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { AnalyzeJobData } from '../../analyzer/analyzeJob.ts';
import type { TickPublisher } from '../../live/createTickPublisher.ts';
import type { LiveGuards } from '../../validation/screenPayload.ts';

/** What the `/v1` routes work with; built once by v1Routes and passed to each route module. */
export interface ApiDeps {
  pool: pg.Pool;
  /** For reading shard checkpoints and outboxes (live state). */
  redis: Redis;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** SHARDS. */
  shards: number;
  /** The live intake's guards, applied before anything is queued. */
  guards: LiveGuards;
  /** HTTP_BODY_LIMIT_BYTES. */
  bodyLimit: number;
  queues: {
    trackSignal: Queue;
    signalOps: Queue;
    analyze: Queue<AnalyzeJobData>;
  };
  ticks: TickPublisher;
  log: Logger;
  /** Wall clock. */
  now: () => number;
  /** Told of each signal `POST /v1/signals` stores as rejected, with its first error's code (metrics). */
  onRejected?: (code: string) => void;
}
