/**
 * `outcome-tracker verify-audit [--tenant T] [--json]`: checks the audit log's hash chains
 * (src/audit/verifyAudit.ts; docs/OPERATIONS.md "Verifying the audit log"). Exit 0 when every
 * chain is intact, 3 when one is not, naming the first bad row of each broken chain.
 */
import { parseArgs } from 'node:util';
import type { AuditProblem, ChainSummary } from '../audit/AuditChainChecker.ts';
import { verifyAudit } from '../audit/verifyAudit.ts';
import { loadConfig, requireSettings } from '../config.ts';
import type { CliIo } from './CliIo.ts';
import { connectPostgres } from './connectPostgres.ts';
import { serviceError } from './serviceError.ts';
import { UsageError } from './usageError.ts';

/** Exit code when the audit log is not intact (README "Command line"). */
export const EXIT_AUDIT_BROKEN = 3; // EXIT.auditBroken in main.ts (not imported: main imports this module)

/** Runs `verify-audit`; returns the exit code (bad arguments throw a UsageError: exit 2). */
export async function verifyAuditCommand(
  args: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { tenant: { type: 'string' }, json: { type: 'boolean', default: false } },
    strict: true,
    allowPositionals: false,
  });
  if (values.tenant === '') throw new UsageError('--tenant must not be empty');
  const config = requireSettings(loadConfig(env), 'DATABASE_URL');
  const db = await connectPostgres(config.DATABASE_URL, 'verify-audit');
  let result;
  try {
    result = await verifyAudit({ db, ...(values.tenant === undefined ? {} : { tenant: values.tenant }) });
  } catch (err) {
    throw serviceError('PostgreSQL', config.DATABASE_URL, err);
  } finally {
    await db.end().catch(() => {});
  }
  const intact = result.problems.length === 0;
  if (values.json) {
    io.stdout.write(
      JSON.stringify({
        intact,
        retentionHorizon: isoOf(result.horizonUs),
        chains: result.chains,
        problems: result.problems.map((p) => ({ ...p, at: isoOf(p.atUs) })),
      }) + '\n',
    );
  } else {
    for (const chain of result.chains) io.stdout.write(`${chainLine(chain)}\n`);
    for (const problem of result.problems) io.stdout.write(`${problemLine(problem)}\n`);
    const rows = result.chains.reduce((n, c) => n + c.rows, 0);
    io.stderr.write(
      intact
        ? `verify-audit: intact: ${result.chains.length} chain(s), ${rows} rows\n`
        : `verify-audit: NOT intact: ${result.problems.length} problem(s); ${result.chains.length} chain(s) intact\n`,
    );
  }
  return intact ? 0 : EXIT_AUDIT_BROKEN;
}

function tenantName(tenant: string | null): string {
  return tenant === null ? '(no tenant)' : JSON.stringify(tenant);
}

function isoOf(us: number | null): string | null {
  return us === null ? null : new Date(Math.floor(us / 1000)).toISOString();
}

function chainLine(c: ChainSummary): string {
  const first = c.start?.chainSeq ?? 1;
  const start = c.start
    ? `; positions before ${c.start.chainSeq} dropped by retention, chain taken from prev_hash ${c.start.prevHash}`
    : '';
  const dropped =
    c.droppedByRetention > 0 ? `; ${c.droppedByRetention} later positions dropped by retention` : '';
  return (
    `ok      tenant ${tenantName(c.tenant)}: ${c.rows} rows intact, positions ${first}–${c.headSeq}, ` +
    `head ${c.headHash}${start}${dropped}`
  );
}

function problemLine(p: AuditProblem): string {
  const at = p.atUs === null ? '' : ` at ${isoOf(p.atUs)}`;
  const pos = p.chainSeq === null ? '' : ` position ${p.chainSeq}`;
  return `BROKEN  tenant ${tenantName(p.tenant)}${pos}${at}: ${p.message} [${p.kind}]`;
}
