/**
 * `outcome-tracker regulatory-report [--tenant T] [--from DAY] [--to DAY] [--format csv|json]
 * [--out FILE]`: the daily regulatory reports the scheduler wrote (docs/OPERATIONS.md
 * "Regulatory reports"), from DATABASE_URL.
 */
import { parseArgs } from 'node:util';
import { loadConfig, requireSettings } from '../config.ts';
import { reportText } from '../reports/reportText.ts';
import { readRegulatoryReports } from '../storage/pageRegulatoryReports.ts';
import type { CliIo } from './CliIo.ts';
import { openOutput, type CommandOutput } from './commandOutput.ts';
import { connectPostgres } from './connectPostgres.ts';
import { UsageError } from './usageError.ts';

const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A day argument as an ISO date, or a UsageError naming the option. */
function dayArg(name: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  if (
    !ISO_DAY.test(value) ||
    Number.isNaN(Date.parse(`${value}T00:00:00Z`)) ||
    new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value
  )
    throw new UsageError(`--${name} must be a day as YYYY-MM-DD, got "${value}"`);
  return value;
}

/** Runs `regulatory-report`; returns the exit code (bad arguments throw a UsageError: exit 2). */
export async function regulatoryReportCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      tenant: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      out: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const format = values.format;
  if (format !== 'csv' && format !== 'json')
    throw new UsageError(`--format must be csv or json, got "${format}"`);
  if (values.tenant === '') throw new UsageError('--tenant must not be empty');
  const from = dayArg('from', values.from);
  const to = dayArg('to', values.to);
  if (from !== null && to !== null && from > to) throw new UsageError(`--from ${from} is after --to ${to}`);
  const config = requireSettings(loadConfig(env), 'DATABASE_URL');

  const db = await connectPostgres(config.DATABASE_URL, 'regulatory-report');
  let out: CommandOutput | null = null;
  let count = 0;
  try {
    out = await openOutput(values.out, io.stdout);
    const reports = readRegulatoryReports(db, { tenant: values.tenant ?? null, from, to });
    async function* counted() {
      for await (const r of reports) {
        count++;
        yield r;
      }
    }
    for await (const text of reportText(counted(), format)) await out.write(text);
  } finally {
    await db.end().catch(() => {});
    await out?.close();
  }
  io.stderr.write(`regulatory-report: ${count} daily reports\n`);
  return 0;
}
