import cron from 'node-cron';
import { z } from 'zod';

const int = (min: number) => z.coerce.number().int().min(min);
/** A node-cron expression (five fields, or six with seconds first), refused at start-up if it is not one. */
const cronExpr = (fallback: string) =>
  z
    .string()
    .refine((v) => cron.validate(v), {
      message: 'must be a cron expression (minute hour day month weekday, optionally seconds first)',
    })
    .default(fallback);
const onOff = z
  .enum(['on', 'off', 'true', 'false', '1', '0'])
  .transform((v) => v === 'on' || v === 'true' || v === '1');

/**
 * Every setting of every process, from environment variables, parsed and validated once at
 * start-up. docs/CONFIG.md is the table of them (a test keeps the two in step).
 */
const schema = z.object({
  /** Redis for queues, checkpoints and the outbox. Unset: scripts start a private one. */
  REDIS_URL: z.string().url().optional(),
  /**
   * A Redis Cluster instead of one Redis: some of its nodes, `host:port` comma separated (the
   * others are discovered). Set this or REDIS_URL, not both (docs/OPERATIONS.md "Redis Cluster").
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, 'must be host:port[,host:port…]')
    .optional(),
  /** PostgreSQL / TimescaleDB for signals, outcomes, metrics. */
  DATABASE_URL: z.string().url().optional(),
  /**
   * Prefix of every Redis key and BullMQ queue. The default is BullMQ's own, so that a producer
   * written with BullMQ's defaults reaches the workers; set it to keep several deployments (or
   * tenants) apart on one Redis. @defaultValue "bull"
   */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('bull'),
  /** Number of tick shards (queues). Changing it re-homes symbols: drain first. @defaultValue 8 */
  SHARDS: int(1).max(4096).default(8),
  /** Shards this worker process serves, e.g. "0-3,6"; empty: all. */
  WORKER_SHARDS: z
    .string()
    .regex(/^(\s*\d+(-\d+)?\s*)(,\s*\d+(-\d+)?\s*)*$|^$/)
    .default(''),
  /** Jobs the intake worker validates at once. @defaultValue 512 */
  INTAKE_CONCURRENCY: int(1).default(512),
  /**
   * How long a signal-ops job waits for its signal to be accepted (it may be sent right
   * behind it) before it is rejected as unknown. @defaultValue 30000
   */
  OP_WAIT_FOR_SIGNAL_MS: int(0).default(30_000),
  /**
   * How long a job keeps retrying while PostgreSQL (or Redis) is unreachable before it fails for
   * a transient reason (docs/OPERATIONS.md "Outages"). Bounded by time, not attempts: an outage
   * delays submissions, it does not reject them. @defaultValue 900000 (15 minutes)
   */
  TRANSIENT_RETRY_MS: int(1000).default(900_000),
  /** Completed intake and analyzer jobs kept for Bull Board: at most this many… @defaultValue 1000 */
  KEEP_COMPLETED_JOBS: int(0).default(1000),
  /** …and none older than this many seconds. @defaultValue 3600 */
  KEEP_COMPLETED_SECONDS: int(1).default(3600),
  /** Failed jobs (rejections stay in PostgreSQL too) kept for this many seconds. @defaultValue 86400 */
  KEEP_FAILED_SECONDS: int(1).default(86_400),
  /** …and at most this many per queue. @defaultValue 100000 */
  KEEP_FAILED_JOBS: int(0).default(100_000),
  /** Largest track-signal or signal-ops payload, as JSON, in bytes. @defaultValue 65536 */
  MAX_PAYLOAD_BYTES: int(1024).default(65_536),
  /**
   * Earliest `createdAt` (and operation `ts`) the live intake accepts, epoch ms: catches times
   * sent in seconds. Replay does not apply it. @defaultValue 946684800000 (2000-01-01)
   */
  MIN_EPOCH_MS: int(0).default(946_684_800_000),
  /**
   * How far ahead of the wall clock a live signal, operation or tick may be, ms; a tick from
   * the future would make every later real tick of its symbol late. Replay does not apply it.
   * @defaultValue 300000
   */
  MAX_CLOCK_SKEW_MS: int(0).default(300_000),
  /** Ticks per shard job from the producer. @defaultValue 2000 */
  TICK_BATCH_SIZE: int(1).max(100_000).default(2000),
  /** Recent ticks kept per symbol to catch up late signals. @defaultValue 20000 */
  TICK_BUFFER_SIZE: int(0).default(20_000),
  /** Outcomes per PostgreSQL transaction in the flusher. @defaultValue 1000 */
  FLUSH_BATCH_SIZE: int(1).max(50_000).default(1000),
  /** Shards the flusher drains at once, each in its own transactions. @defaultValue 2 */
  FLUSH_CONCURRENCY: int(1).max(64).default(2),
  /** Flusher poll interval when the outbox is empty. @defaultValue 250 */
  FLUSH_INTERVAL_MS: int(1).default(250),
  /** How long an outbox entry of a signal PostgreSQL does not know waits before it is dropped. @defaultValue 300000 */
  FLUSH_ORPHAN_GRACE_MS: int(0).default(300_000),
  /** The stale sweep (SPEC.md): "off" disables it. @defaultValue on */
  STALE_SWEEP: onOff.default('on'),
  /** Grace after a deadline before the sweep closes a signal without ticks. @defaultValue 60000 */
  STALE_GRACE_MS: int(0).default(60_000),
  /** node-cron schedule of the stale sweep. @defaultValue every 10 s */
  SWEEP_CRON: cronExpr('*/10 * * * * *'),
  /** node-cron schedule of the analyzer. @defaultValue every 15 min */
  ANALYZE_CRON: cronExpr('*/15 * * * *'),
  /**
   * Position sizing behind the analyzer's daily returns (docs/METRICS.md "Periods and grouping"):
   * equal_risk (f · R per signal) or equal_notional (f · net return). @defaultValue equal_risk
   */
  ANALYZE_SIZING: z.enum(['equal_risk', 'equal_notional']).default('equal_risk'),
  /** The f of ANALYZE_SIZING: fraction of equity risked (or invested) per signal. @defaultValue 0.01 */
  ANALYZE_RISK_FRACTION: z.coerce.number().gt(0).max(1).default(0.01),
  /** How long BullMQ lets a job run without renewing its lock before it counts as stalled. @defaultValue 30000 */
  LOCK_DURATION_MS: int(1000).default(30_000),
  /**
   * Stalls a shard job survives before BullMQ fails it. A failed shard job would drop ticks,
   * so this is very high: a stalled job goes back to the head of its queue and is retried.
   * @defaultValue 1000000
   */
  MAX_STALLED_COUNT: int(1).default(1_000_000),
  /** HTTP listen address. @defaultValue 127.0.0.1:3000 */
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: int(0).max(65535).default(3000),
  /**
   * Address the worker, flusher and scheduler serve `GET /metrics` on (no key: keep it on
   * loopback or a private network). The web process serves its own on HTTP_PORT, behind a key.
   * @defaultValue 127.0.0.1
   */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Port of that endpoint: `off` serves none; `0` takes a free port and logs it ("metrics
   * served"); set it per process (each worker on a host its own). @defaultValue off
   */
  METRICS_PORT: z
    .union([z.literal('off'), int(0).max(65535)], {
      errorMap: () => ({ message: 'must be "off" or a port number 0-65535' }),
    })
    .default('off')
    .transform((v) => (v === 'off' ? null : v)),
  /**
   * Names the web process answers to in the Host header (against DNS rebinding), comma
   * separated, each with or without a port (without: any port); HTTP_HOST is always added;
   * `*` allows any. Others get 403 HOST_FORBIDDEN. @defaultValue localhost,127.0.0.1,[::1]
   */
  HTTP_ALLOWED_HOSTS: z.string().default('localhost,127.0.0.1,[::1]'),
  /**
   * Requests per minute per API key (per address before a key is known), counted in Redis so
   * that every web process shares them; `0` turns the limit off. @defaultValue 600
   */
  HTTP_RATE_LIMIT_PER_MINUTE: int(0).default(600),
  /**
   * How long a web process reuses an API key lookup; a revoked key keeps working in a process
   * that looked it up for at most this long. `0` looks every request up. @defaultValue 5000
   */
  API_KEY_CACHE_MS: int(0).max(300_000).default(5000),
  /**
   * Largest request body the `/v1` write routes take, in bytes (a batch of 1000 signals, a
   * tick batch); larger ones get 413 PAYLOAD_TOO_LARGE. @defaultValue 8388608 (8 MiB)
   */
  HTTP_BODY_LIMIT_BYTES: int(1024).default(8 * 1024 * 1024),
  /**
   * How long a Redis command of the web process may wait (Redis down or restarting) before the
   * request is answered 503 SERVICE_UNAVAILABLE instead of hanging. @defaultValue 5000
   */
  HTTP_REDIS_TIMEOUT_MS: int(100).max(600_000).default(5000),
  /**
   * Entries the events stream keeps (about: Redis trims whole nodes), so that SSE clients and
   * the webhook feeder can resume after a pause; a resume from before them gets a `gap` event.
   * @defaultValue 500000
   */
  EVENTS_RETENTION: int(1000).default(500_000),
  /** Entries older than this many ms are trimmed too; 0: no age limit. @defaultValue 0 */
  EVENTS_RETENTION_MS: int(0).default(0),
  /** A comment line to every SSE client this often, ms, so proxies keep it open. @defaultValue 15000 */
  SSE_HEARTBEAT_MS: int(100).default(15_000),
  /** An SSE client whose unsent output grows past this many bytes is dropped. @defaultValue 1048576 */
  SSE_MAX_BUFFER_BYTES: int(1024).default(1_048_576),
  /**
   * Live streams one API key may hold open on one web process at once: enough for a service that
   * fans one key out to many readers, a bound on what one key can hold. @defaultValue 1000
   */
  SSE_MAX_STREAMS_PER_KEY: int(1).max(100_000).default(1000),
  /**
   * Webhook URLs may point at private, loopback or link-local addresses (refused by default,
   * at configuration and at every delivery). @defaultValue off
   */
  WEBHOOK_ALLOW_PRIVATE: onOff.default('off'),
  /**
   * Webhooks a tenant may have at once: every event is sent to each, so this bounds what one
   * tenant can make the workers send. @defaultValue 25
   */
  WEBHOOKS_PER_TENANT: int(1).max(10_000).default(25),
  /** Attempts per webhook delivery before it fails for good. @defaultValue 10 */
  WEBHOOK_MAX_ATTEMPTS: int(1).max(100).default(10),
  /** First retry delay of a webhook delivery, ms; doubles each attempt. @defaultValue 1000 */
  WEBHOOK_BACKOFF_MS: int(1).default(1000),
  /** How long a webhook receiver has to answer, ms. @defaultValue 10000 */
  WEBHOOK_TIMEOUT_MS: int(100).default(10_000),
  /** Apply migrations when a process that needs PostgreSQL starts. @defaultValue on */
  MIGRATE_ON_START: onOff.default('on'),
  /** TimescaleDB retention of outcomes (not audit rows: AUDIT_RETENTION_DAYS) in days; 0 keeps everything. @defaultValue 0 */
  RETENTION_DAYS: int(0)
    .refine(
      (d) => d === 0 || d > 30,
      'must be 0 (keep everything) or more than 30: daily_outcomes refreshes the last 30 days',
    )
    .default(0),
  /**
   * TimescaleDB retention of audit rows in days, independent of RETENTION_DAYS; 0 keeps
   * everything. verify-audit still verifies what survives (docs/OPERATIONS.md). @defaultValue 0
   */
  AUDIT_RETENTION_DAYS: int(0).default(0),
  /** node-cron schedule (UTC) of the daily regulatory reports' catch-up run. @defaultValue hourly at :15 */
  REPORT_CRON: cronExpr('15 * * * *'),
  /**
   * Days a webhook delivery attempt stays in `webhook_deliveries` (the scheduler prunes older ones
   * hourly); 0 keeps them all. @defaultValue 30
   */
  WEBHOOK_DELIVERIES_RETENTION_DAYS: int(0).max(36_500).default(30),
  /** node-cron schedule (UTC) of that pruning. @defaultValue hourly at :45 */
  PRUNE_CRON: cronExpr('45 * * * *'),
  /** pino level. @defaultValue info */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(schema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const parsed = schema.safeParse(known);
  const lines = parsed.success
    ? []
    : parsed.error.issues.map(
        (i) =>
          `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(redactSecret(env[String(i.path[0])]))})`,
      );
  // Which Redis a process would use must never be a guess.
  if (known.REDIS_URL !== undefined && known.REDIS_CLUSTER_NODES !== undefined)
    lines.push('REDIS_URL, REDIS_CLUSTER_NODES: set one of them, not both (a single Redis or a cluster)');
  if (!parsed.success || lines.length > 0)
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  return parsed.data;
}

/**
 * `value` with any password in it masked: a URL's `user:password@` becomes `user:***@`, also
 * when the value is not a valid URL (a bad URL is exactly what a config error echoes).
 */
export function redactSecret(value: string | undefined): string | undefined {
  return value?.replace(/(\/\/[^/@\s:]*:)\S*@/g, '$1***@');
}

/** The settings a process cannot run without; throws naming the missing ones. */
export function requireSettings<K extends 'REDIS_URL' | 'DATABASE_URL'>(
  config: Config,
  ...keys: K[]
): Config & { [P in K]-?: string } {
  const missing = keys.filter((k) => config[k] === undefined);
  if (missing.length > 0)
    throw new ConfigError(`missing configuration: ${missing.join(', ')} (see docs/CONFIG.md)`);
  return config as Config & { [P in K]-?: string };
}

/** Where a process finds Redis: one server, or a cluster's seed nodes. */
export type RedisTarget = { url: string } | { clusterNodes: { host: string; port: number }[] };

/**
 * The Redis of REDIS_URL or REDIS_CLUSTER_NODES (loadConfig refuses both); throws naming the
 * two when neither is set.
 */
export function redisTargetOf(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): RedisTarget {
  if (config.REDIS_CLUSTER_NODES !== undefined) {
    const clusterNodes = config.REDIS_CLUSTER_NODES.split(',').map((node) => {
      const [host, port] = node.trim().split(':');
      return { host: host!, port: Number(port) };
    });
    return { clusterNodes };
  }
  if (config.REDIS_URL !== undefined) return { url: config.REDIS_URL };
  throw new ConfigError('missing configuration: REDIS_URL or REDIS_CLUSTER_NODES (see docs/CONFIG.md)');
}

/**
 * The retention policies `migrate()` sets from RETENTION_DAYS and AUDIT_RETENTION_DAYS (null:
 * none, keep everything).
 */
export function retentionOf(config: Pick<Config, 'RETENTION_DAYS' | 'AUDIT_RETENTION_DAYS'>): {
  outcomesDays: number | null;
  auditDays: number | null;
} {
  const days = (d: number): number | null => (d === 0 ? null : d);
  return { outcomesDays: days(config.RETENTION_DAYS), auditDays: days(config.AUDIT_RETENTION_DAYS) };
}

/** How long finished intake and analyzer jobs stay in Redis (BullMQ's removeOnComplete/removeOnFail). */
export function jobRetentionOf(
  config: Pick<
    Config,
    'KEEP_COMPLETED_JOBS' | 'KEEP_COMPLETED_SECONDS' | 'KEEP_FAILED_JOBS' | 'KEEP_FAILED_SECONDS'
  >,
): { removeOnComplete: { count: number; age: number }; removeOnFail: { count: number; age: number } } {
  return {
    removeOnComplete: { count: config.KEEP_COMPLETED_JOBS, age: config.KEEP_COMPLETED_SECONDS },
    removeOnFail: { count: config.KEEP_FAILED_JOBS, age: config.KEEP_FAILED_SECONDS },
  };
}

/** The live intake's input guards. */
export function liveGuardsOf(
  config: Pick<Config, 'MAX_PAYLOAD_BYTES' | 'MIN_EPOCH_MS' | 'MAX_CLOCK_SKEW_MS'>,
): {
  maxPayloadBytes: number;
  minEpochMs: number;
  maxClockSkewMs: number;
} {
  return {
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    minEpochMs: config.MIN_EPOCH_MS,
    maxClockSkewMs: config.MAX_CLOCK_SKEW_MS,
  };
}

/** The web process's front door: Host check, rate limit, key cache (docs/API.md). */
export function webAccessOf(
  config: Pick<
    Config,
    'HTTP_HOST' | 'HTTP_ALLOWED_HOSTS' | 'HTTP_RATE_LIMIT_PER_MINUTE' | 'API_KEY_CACHE_MS'
  >,
): { allowedHosts: string; listenHost: string; rateLimitPerMinute: number; keyCacheMs: number } {
  return {
    allowedHosts: config.HTTP_ALLOWED_HOSTS,
    listenHost: config.HTTP_HOST,
    rateLimitPerMinute: config.HTTP_RATE_LIMIT_PER_MINUTE,
    keyCacheMs: config.API_KEY_CACHE_MS,
  };
}

/** How much of the events stream Redis keeps. */
export function eventRetentionOf(config: Pick<Config, 'EVENTS_RETENTION' | 'EVENTS_RETENTION_MS'>): {
  maxLen: number;
  maxAgeMs: number;
} {
  return { maxLen: config.EVENTS_RETENTION, maxAgeMs: config.EVENTS_RETENTION_MS };
}

/** The web process's live stream and webhook routes. */
export function liveOf(
  config: Pick<
    Config,
    | 'SSE_HEARTBEAT_MS'
    | 'SSE_MAX_BUFFER_BYTES'
    | 'SSE_MAX_STREAMS_PER_KEY'
    | 'WEBHOOK_ALLOW_PRIVATE'
    | 'WEBHOOKS_PER_TENANT'
  >,
): {
  heartbeatMs: number;
  maxBufferBytes: number;
  maxStreamsPerKey: number;
  allowPrivateWebhooks: boolean;
  webhooksPerTenant: number;
} {
  return {
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    maxBufferBytes: config.SSE_MAX_BUFFER_BYTES,
    maxStreamsPerKey: config.SSE_MAX_STREAMS_PER_KEY,
    allowPrivateWebhooks: config.WEBHOOK_ALLOW_PRIVATE,
    webhooksPerTenant: config.WEBHOOKS_PER_TENANT,
  };
}

/** Webhook delivery settings. */
export function webhookOptionsOf(
  config: Pick<
    Config,
    'WEBHOOK_ALLOW_PRIVATE' | 'WEBHOOK_MAX_ATTEMPTS' | 'WEBHOOK_BACKOFF_MS' | 'WEBHOOK_TIMEOUT_MS'
  >,
): { allowPrivate: boolean; attempts: number; backoffMs: number; timeoutMs: number } {
  return {
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    attempts: config.WEBHOOK_MAX_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
  };
}

/** The config variable names, for docs and checks. */
export const CONFIG_KEYS = Object.keys(schema.shape);

/** Parses WORKER_SHARDS ("0-3,6") into shard numbers below `shards`; empty means all. */
export function parseShardList(spec: string, shards: number): number[] {
  if (spec.trim() === '') return Array.from({ length: shards }, (_, i) => i);
  const out = new Set<number>();
  for (const part of spec.split(',')) {
    const [a, b] = part.trim().split('-').map(Number);
    for (let s = a!; s <= (b ?? a!); s++) {
      if (s >= shards) throw new ConfigError(`WORKER_SHARDS names shard ${s}, but SHARDS is ${shards}`);
      out.add(s);
    }
  }
  return [...out].sort((x, y) => x - y);
}
