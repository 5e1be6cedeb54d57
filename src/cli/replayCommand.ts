import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Tick } from '../../machines/types.ts';
import { describeErrors } from '../errors.ts';
import { replay } from '../replay/replay.ts';
import { newStats, readCandles, readTicks, type TickFileStats } from '../ticks/readTicks.ts';
import { createProgress, type Progress } from './createProgress.ts';
import { InputError } from './inputError.ts';
import type { CliIo } from './CliIo.ts';
import { readJsonLines } from '../replay/readJsonLines.ts';
import { abbreviate, storableJson } from '../validation/checkStorable.ts';
import { UsageError } from './usageError.ts';

export const replayUsage =
  'outcome-tracker replay --ticks FILE.csv[.gz] [--candles] --signals FILE.jsonl [--ops FILE.jsonl] [--out FILE]';

/**
 * `replay`: offline and deterministic, no Redis or PostgreSQL. Writes one JSON line per
 * signal in input order; counts and every rejection go to stderr. A tick file of which no row
 * is usable is an input error (exit 2), not a replay with every signal pending.
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
    throw new UsageError('needs --ticks and --signals');
  }
  const signals = await readJsonLines(values.signals);
  const ops = values.ops === undefined ? [] : await readJsonLines(values.ops);
  // Opened before the replay runs: an unwritable --out fails at once, not after the whole replay.
  const outFile =
    values.out === undefined
      ? undefined
      : await open(values.out, 'w').catch((err: Error) => {
          throw new Error(`cannot write --out ${values.out}: ${err.message}`);
        });
  try {
    const stats = newStats();
    const progress = createProgress(io.stderr, 'replay');
    const source = values.candles ? readCandles(values.ticks, stats) : readTicks(values.ticks, stats);
    const result = await replay({ signals, ticks: withProgress(source, stats, progress), ops });
    progress.done();
    reportSkipped(io, values.ticks, stats);
    requireUsableTicks(values.ticks, stats);

    // In chunks: one string of millions of lines could pass V8's limit on a string's length.
    for (let i = 0; i < result.lines.length; i += 10_000) {
      const text = result.lines
        .slice(i, i + 10_000)
        .map((line) => JSON.stringify(line) + '\n')
        .join('');
      if (outFile !== undefined) await outFile.write(text);
      else if (!io.stdout.write(text)) await new Promise((resolve) => io.stdout.once('drain', resolve));
    }

    // Each reason with its code (docs/ERRORS.md); the output lines carry the messages alone.
    for (const r of result.signalRejections)
      io.stderr.write(`rejected signal ${r.id ?? '(no id)'}: ${describeErrors(r.errors)}\n`);
    for (const r of result.rejectedOps)
      io.stderr.write(`rejected operation ${opPreview(r.op)}: ${describeErrors(r.errors)}\n`);
    const states = new Map<string, number>();
    for (const line of result.lines) states.set(line.state, (states.get(line.state) ?? 0) + 1);
    io.stderr.write(
      `replay: ${result.lines.length} signals (${[...states].map(([k, v]) => `${v} ${k}`).join(', ')}), ` +
        `${result.rejectedOps.length} operations rejected; ${stats.rows} rows read, ${result.appliedTicks} ticks applied, ` +
        `${result.lateTicks} late, ${stats.skippedBadTime} rows skipped for a bad time or symbol, ` +
        `${stats.skippedMissingValues} for missing prices\n`,
    );
    return 0;
  } finally {
    await outFile?.close();
  }
}

/**
 * A rejected operation as quoted on stderr: its JSON, nesting cut off and at most 300
 * characters (the line may be anything at all: JSON.stringify alone overflows the stack on
 * deep nesting, and would print megabytes of a huge one).
 */
function opPreview(op: unknown): string {
  return abbreviate(JSON.stringify(storableJson(op, 4096)) ?? 'null', 300);
}

/** `ticks`, telling `progress` as they pass. */
export async function* withProgress(
  ticks: AsyncIterable<Tick>,
  stats: TickFileStats,
  progress: Progress,
): AsyncGenerator<Tick> {
  for await (const tick of ticks) {
    progress.update(stats.rows, stats.ticks);
    yield tick;
  }
}

/** One stderr line per noted skipped row: `FILE line N: reason`. */
export function reportSkipped(io: CliIo, file: string, stats: TickFileStats): void {
  const skipped = stats.skippedBadTime + stats.skippedMissingValues;
  for (const { line, reason } of stats.skippedLines)
    io.stderr.write(`${file} line ${line}: skipped: ${reason}\n`);
  if (skipped > stats.skippedLines.length)
    io.stderr.write(`${file}: ${skipped - stats.skippedLines.length} more rows skipped\n`);
}

/** Throws when the tick file gave nothing to work with. */
export function requireUsableTicks(file: string, stats: TickFileStats): void {
  if (stats.ticks > 0) return;
  if (stats.rows === 0) throw new InputError(`${file}: no tick rows after the header`);
  const first = stats.skippedLines[0];
  throw new InputError(
    `${file}: none of its ${stats.rows} rows is usable` +
      (first === undefined ? '' : ` (line ${first.line}: ${first.reason})`),
  );
}
