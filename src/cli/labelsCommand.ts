/**
 * `outcome-tracker labels [--model M] [--model-version V] [--tenant T] [--format jsonl|csv]
 * [--out FILE]`: one row per closed signal with its labels (src/labels/labelOf.ts; docs/API.md
 * "Labels"), as `GET /v1/labels` serves them, from DATABASE_URL.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig, requireSettings } from '../config.ts';
import { readLabels } from '../labels/readLabels.ts';
import { labelText } from '../web/v1/outcomeRoutes.ts';
import type { CliIo } from './CliIo.ts';
import { openOutput, type CommandOutput } from './commandOutput.ts';
import { serviceError } from './serviceError.ts';
import { UsageError } from './usageError.ts';

/** Runs `labels`; returns the exit code (bad arguments throw a UsageError: exit 2). */
export async function labelsCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string' },
      'model-version': { type: 'string' },
      tenant: { type: 'string' },
      format: { type: 'string', default: 'jsonl' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.format !== 'jsonl' && values.format !== 'csv')
    throw new UsageError(`--format must be jsonl or csv, got "${values.format}"`);
  for (const name of ['model', 'model-version', 'tenant'] as const)
    if (values[name] === '') throw new UsageError(`--${name} must not be empty`);
  const config = requireSettings(loadConfig(env), 'DATABASE_URL');

  const db = new pg.Client({
    connectionString: config.DATABASE_URL,
    application_name: 'outcome-tracker labels',
    connectionTimeoutMillis: 5000,
  });
  db.on('error', () => {});
  await db.connect().catch((err: unknown) => {
    throw serviceError('PostgreSQL', config.DATABASE_URL, err, 'cannot reach');
  });
  let out: CommandOutput | null = null;
  let count = 0;
  try {
    out = await openOutput(values.out, io.stdout);
    const rows = readLabels(db, {
      tenant: values.tenant ?? null,
      ...(values.model === undefined ? {} : { model: values.model }),
      ...(values['model-version'] === undefined ? {} : { modelVersion: values['model-version'] }),
    });
    for await (const text of labelText(rows, values.format === 'csv')) {
      count++;
      await out.write(text);
    }
  } finally {
    await db.end().catch(() => {});
    await out?.close();
  }
  const rowsWritten = values.format === 'csv' ? Math.max(0, count - 1) : count;
  io.stderr.write(`labels: ${rowsWritten} closed signals\n`);
  return 0;
}
