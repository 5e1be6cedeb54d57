import { parseArgs } from 'node:util';
import type { RedisClient } from '../RedisClient.ts';
import type { OutcomeLine, RejectedLine } from '../../machines/types.ts';
import { loadConfig, redisTargetOf, requireSettings } from '../config.ts';
import { readLive } from '../live/readLive.ts';
import { pageSignals, type SignalRow } from '../storage/pageSignals.ts';
import type { Queryable } from '../storage/Queryable.ts';
import { readOutcomeLines } from '../storage/readOutcomeLines.ts';
import { connectPostgres } from './connectPostgres.ts';
import { openOutput, type CommandOutput } from './commandOutput.ts';
import { connectRedis, redisError } from './connectRedis.ts';
import type { CliIo } from './CliIo.ts';
import { serviceError, ServiceError } from './serviceError.ts';
import { UsageError } from './usageError.ts';

export interface ExportSource {
  redis: RedisClient;
  db: Queryable;
  /** QUEUE_PREFIX of the shards. */
  prefix: string;
  /** SHARDS: where each symbol's signals live. */
  shards: number;
  /** Signals read per round trip. @defaultValue 2000 */
  pageSize?: number;
  /** One tenant's signals only (`signals.tenant`); every tenant when left out. */
  tenant?: string;
}

/**
 * Every signal the intake has seen, in received order (`signals.seq`), in SPEC.md's replay
 * format: rejected payloads as `{id, state: "rejected", errors}`; accepted signals from
 * wherever they are now: a flushed outcome in PostgreSQL, a closed outcome still in its
 * shard's outbox, an open signal's checkpoint, or, when its shard has not registered it yet,
 * `pending`.
 *
 * Open signals are reported as of their shard's last committed job, with every tick of that
 * job folded in (excursions included): each checkpoint is combined with its symbol's index
 * state read in the same MULTI, as a worker restoring the shard would. Ticks still queued are
 * not in it.
 *
 * Each page reads a signal's Redis state (checkpoint, then outbox) before PostgreSQL: a signal
 * moves checkpoint → outbox (atomically) → PostgreSQL (committed before it leaves the
 * outbox), so reading in that order never misses one that moves meanwhile.
 */
export async function* exportLines(source: ExportSource): AsyncGenerator<OutcomeLine | RejectedLine> {
  const pageSize = source.pageSize ?? 2000;
  let after = 0;
  for (;;) {
    const rows = await pageSignals(source.db, after, pageSize, source.tenant ?? null);
    if (rows.length === 0) return;
    after = rows[rows.length - 1]!.seq;
    const accepted = rows.filter((r) => r.status === 'accepted' && r.id !== null && r.symbol !== null);
    const live = await readLive(
      source,
      accepted.map((r) => ({ id: r.id!, symbol: r.symbol! })),
    );
    const stored = await readOutcomeLines(
      source.db,
      accepted.map((r) => r.id!),
    );
    for (const row of rows) {
      if (row.status === 'rejected') {
        yield rejectedLine(row);
        continue;
      }
      const id = row.id!;
      yield stored.get(id) ?? live.get(id) ?? { id, state: 'pending', legs: [] };
    }
  }
}

/**
 * `export [--tenant T] [--out FILE]`: prints every known signal (of tenant T) as JSON lines (see {@link exportLines}) to stdout or
 * `--out FILE`, and a count per state to stderr.
 */
export async function exportCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: 'string' }, tenant: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`export takes no arguments, got ${positionals.join(' ')}`);
  if (values.tenant === '') throw new UsageError('--tenant must not be empty');
  const config = requireSettings(loadConfig(env), 'DATABASE_URL');
  const target = redisTargetOf(config);

  // A command line fails rather than waits (connectRedis); both services are tried at once, so
  // that one run names every one that is unreachable.
  const [redisResult, dbResult] = await Promise.allSettled([
    connectRedis(target, 'export'),
    connectPostgres(config.DATABASE_URL, 'export'),
  ]);
  if (redisResult.status === 'rejected' || dbResult.status === 'rejected') {
    if (redisResult.status === 'fulfilled') redisResult.value.disconnect();
    if (dbResult.status === 'fulfilled') await dbResult.value.end().catch(() => {});
    const reasons = [redisResult, dbResult].flatMap((r) =>
      r.status === 'rejected' ? [(r.reason as Error).message] : [],
    );
    throw new ServiceError(reasons.join('; '));
  }
  const redis = redisResult.value;
  const db = dbResult.value;
  let dbLost = false;
  db.on('error', () => (dbLost = true));
  db.on('end', () => (dbLost = true));
  let out: CommandOutput | null = null;
  const states = new Map<string, number>();
  let count = 0;
  try {
    out = await openOutput(values.out, io.stdout);
    for await (const line of exportLines({
      redis,
      db,
      prefix: config.QUEUE_PREFIX,
      shards: config.SHARDS,
      ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
    })) {
      count++;
      states.set(line.state, (states.get(line.state) ?? 0) + 1);
      await out.write(JSON.stringify(line) + '\n');
    }
  } catch (err) {
    // Name the service that went away under the export.
    if (redis.status === 'end' || redis.status === 'close') throw redisError(target, err);
    if (dbLost) throw serviceError('PostgreSQL', config.DATABASE_URL, err, 'cannot reach');
    throw err;
  } finally {
    redis.disconnect();
    await db.end().catch(() => {});
    await out?.close();
  }
  io.stderr.write(
    `export: ${count} signals (${[...states].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})\n`,
  );
  return 0;
}

/** The export line of a rejected payload. */
function rejectedLine(row: SignalRow): RejectedLine {
  return { id: row.id, state: 'rejected', errors: row.errors ?? [] };
}
