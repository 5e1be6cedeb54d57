import { parseArgs } from 'node:util';
import type { Tick } from '../../machines/types.ts';
import { loadConfig, redisTargetOf } from '../config.ts';
import { createTickPublisher } from '../live/createTickPublisher.ts';
import { newStats, readCandles, readTicks } from '../ticks/readTicks.ts';
import { connectRedis, redisError } from './connectRedis.ts';
import { createProgress } from './createProgress.ts';
import type { CliIo } from './CliIo.ts';
import { reportSkipped, requireUsableTicks, withProgress } from './replayCommand.ts';
import { UsageError } from './usageError.ts';

/**
 * `feed`: replays a tick file into the live system through the producer path. `--max` sends
 * as fast as the queues take it; `--speed X` paces by the file's own timestamps, X times
 * real time (1 = real time). Redis unreachable, or lost on the way, ends it within seconds with
 * an error naming Redis (exit 1).
 */
export async function feedCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ticks: { type: 'string' },
      candles: { type: 'boolean', default: false },
      speed: { type: 'string' },
      max: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.ticks === undefined) throw new UsageError('needs --ticks');
  if (values.speed !== undefined && values.max) throw new UsageError('give --speed or --max, not both');
  const speed = values.speed === undefined ? null : Number(values.speed);
  if (speed !== null && !(speed > 0))
    throw new UsageError(`--speed must be a number above 0, got ${values.speed}`);
  const config = loadConfig(env);
  const target = redisTargetOf(config);
  const connection = await connectRedis(target, 'feed');
  const publisher = createTickPublisher({
    connection,
    prefix: config.QUEUE_PREFIX,
    shards: config.SHARDS,
    batchSize: config.TICK_BATCH_SIZE,
    // publish() rejects on its own, and that error names Redis; a log line would only repeat it.
    onError: () => {},
  });
  const publish = async (ticks: Tick[]): Promise<number> => {
    try {
      return await publisher.publish(ticks);
    } catch (err) {
      throw redisError(target, err);
    }
  };
  const stats = newStats();
  const progress = createProgress(io.stderr, 'feed');
  const source = withProgress(
    values.candles ? readCandles(values.ticks, stats) : readTicks(values.ticks, stats),
    stats,
    progress,
  );
  let batch: Tick[] = [];
  let sent = 0;
  let firstTs: number | null = null;
  const started = Date.now();
  try {
    for await (const tick of source) {
      if (speed !== null) {
        firstTs ??= tick.ts;
        const due = started + (tick.ts - firstTs) / speed;
        if (due > Date.now() + 5 && batch.length > 0) {
          sent += await publish(batch);
          batch = [];
        }
        const wait = due - Date.now();
        if (wait > 5) await new Promise((r) => setTimeout(r, wait));
      }
      batch.push(tick);
      if (batch.length >= config.TICK_BATCH_SIZE * 8) {
        sent += await publish(batch);
        batch = [];
      }
    }
    if (batch.length > 0) sent += await publish(batch);
  } finally {
    progress.done();
    await publisher.close().catch(() => {});
    connection.disconnect();
  }
  reportSkipped(io, values.ticks, stats);
  requireUsableTicks(values.ticks, stats);
  const seconds = (Date.now() - started) / 1000;
  io.stderr.write(
    `feed: ${sent} ticks queued in ${seconds.toFixed(1)} s; ${stats.rows} rows read, ` +
      `${stats.skippedBadTime} skipped for a bad time or symbol, ${stats.skippedMissingValues} for missing prices\n`,
  );
  return 0;
}
