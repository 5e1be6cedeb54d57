import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { replay } from '../replay/replay.ts';
import { newStats, readCandles, readTicks } from '../ticks/readTicks.ts';
import type { CliIo } from './main.ts';
import { readJsonLines } from './readJsonLines.ts';
import { UsageError } from './usageError.ts';

export const replayUsage =
  'outcome-tracker replay --ticks FILE.csv[.gz] [--candles] --signals FILE.jsonl [--ops FILE.jsonl] [--out FILE]';

/**
 * `replay`: offline and deterministic, no Redis or PostgreSQL. Writes one JSON line per
 * signal in input order; counts and every rejection go to stderr.
 */
export async function replayCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ticks: { type: 'string' },
      candles: { type: 'boolean', default: false },
      signals: { type: 'string' },
      ops: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  if (values.ticks === undefined || values.signals === undefined) {
    throw new UsageError('replay needs --ticks and --signals');
  }
  const stats = newStats();
  const ticks = values.candles ? readCandles(values.ticks, stats) : readTicks(values.ticks, stats);
  const signals = await readJsonLines(values.signals);
  const ops = values.ops === undefined ? [] : await readJsonLines(values.ops);
  const result = await replay({ signals, ticks, ops });

  const out = values.out === undefined ? io.stdout : createWriteStream(values.out);
  for (const line of result.lines) out.write(JSON.stringify(line) + '\n');
  if (out !== io.stdout)
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );

  for (const line of result.lines) {
    if (line.state === 'rejected')
      io.stderr.write(`rejected signal ${line.id ?? '(no id)'}: ${line.errors.join('; ')}\n`);
  }
  for (const r of result.rejectedOps)
    io.stderr.write(`rejected operation ${JSON.stringify(r.op)}: ${r.errors.join('; ')}\n`);
  const states = new Map<string, number>();
  for (const line of result.lines) states.set(line.state, (states.get(line.state) ?? 0) + 1);
  io.stderr.write(
    `replay: ${result.lines.length} signals (${[...states].map(([k, v]) => `${v} ${k}`).join(', ')}), ` +
      `${result.rejectedOps.length} operations rejected; ${stats.rows} rows read, ${result.appliedTicks} ticks applied, ` +
      `${result.lateTicks} late, ${stats.skippedBadTime} rows skipped for a bad time or symbol, ` +
      `${stats.skippedMissingValues} for missing prices\n`,
  );
  return 0;
}
