import { parseArgs } from 'node:util';
import type { Tick } from '../../machines/types.ts';
import { loadConfig, requireSettings } from '../config.ts';
import { createTickPublisher } from '../live/createTickPublisher.ts';
import { createRedis, createLogger } from '../live/startProcess.ts';
import { newStats, readCandles, readTicks } from '../ticks/readTicks.ts';
import type { CliIo } from './main.ts';
import { UsageError } from './usageError.ts';

export const feedUsage = 'outcome-tracker feed --ticks FILE.csv[.gz] [--candles] [--speed X | --max]';

/**
 * `feed`: replays a tick file into the live system through the producer path. `--max` sends
 * as fast as the queues take it; `--speed X` paces by the file's own timestamps, X times
 * real time (1 = real time).
 */
export async function feedCommand(args: string[], io: CliIo): Promise<number> {
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
  if (values.ticks === undefined) throw new UsageError('feed needs --ticks');
  if (values.speed !== undefined && values.max) throw new UsageError('give --speed or --max, not both');
  const speed = values.speed === undefined ? null : Number(values.speed);
  if (speed !== null && !(speed > 0))
    throw new UsageError(`--speed must be a number above 0, got ${values.speed}`);
  const config = requireSettings(loadConfig(), 'REDIS_URL');
  const log = createLogger(config, 'feed');
  const connection = createRedis(config.REDIS_URL, log, 'feed');
  const publisher = createTickPublisher({
    connection,
    prefix: config.QUEUE_PREFIX,
    shards: config.SHARDS,
    batchSize: config.TICK_BATCH_SIZE,
    onError: (err) => log.warn({ err }, 'queue connection error'),
  });
  const stats = newStats();
  const source = values.candles ? readCandles(values.ticks, stats) : readTicks(values.ticks, stats);
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
          sent += await publisher.publish(batch);
          batch = [];
        }
        const wait = due - Date.now();
        if (wait > 5) await new Promise((r) => setTimeout(r, wait));
      }
      batch.push(tick);
      if (batch.length >= config.TICK_BATCH_SIZE * 8) {
        sent += await publisher.publish(batch);
        batch = [];
      }
    }
    if (batch.length > 0) sent += await publisher.publish(batch);
  } finally {
    await publisher.close();
    connection.disconnect();
  }
  const seconds = (Date.now() - started) / 1000;
  io.stderr.write(
    `feed: ${sent} ticks queued in ${seconds.toFixed(1)} s; ${stats.rows} rows read, ` +
      `${stats.skippedBadTime} skipped for a bad time or symbol, ${stats.skippedMissingValues} for missing prices\n`,
  );
  return 0;
}
