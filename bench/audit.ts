/**
 * `npm run bench -- audit [--rows=N]`: what the audit chain costs (docs/BENCHMARKS.md "audit").
 * Against real PostgreSQL (DATABASE_URL, or a private instance), in a scratch database of its
 * own: audit rows per second inserted with the chain trigger, each beside the same inserts with
 * the trigger disabled (the raw baseline of the same run); and verify-audit's rows per second.
 * `insert_1conn_new_tenants` writes `--rows` tenants' first rows on one connection, so its
 * figure falls if a connection's cost grows with the tenants it has written for.
 */
import pg from 'pg';
import { verifyAudit } from '../src/audit/verifyAudit.ts';
import { migrate } from '../src/storage/migrate.ts';
import { withServices } from './privateServices.ts';
import type { Report } from './Report.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function flag(args: string[], name: string, fallback: number): number {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
}

export async function run(report: Report, args: string[]): Promise<void> {
  const rows = flag(args, 'rows', 20_000);
  const say = (msg: string): void => void process.stderr.write(`audit: ${msg}\n`);
  await withServices('audit', say, async ({ databaseUrl }) => {
    const name = `bench_audit_${process.pid}`;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    const dbUrl = url.toString();
    const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
    pool.on('error', () => {}); // the final DROP … WITH (FORCE) ends idle connections
    try {
      await migrate({ databaseUrl: dbUrl, log: silent });

      /**
       * Single-row transactions from `writers` connections. Tenants: one a writer, one shared,
       * or a new one a row (a service of many tenants, where a pooled connection writes for one
       * after another).
       */
      const singles = async (
        label: string,
        writers: number,
        tenants: 'each' | 'shared' | 'new',
      ): Promise<number> => {
        const per = Math.floor(rows / writers);
        const tenantOf = (w: number, i: number): string =>
          tenants === 'shared'
            ? `${label}-shared`
            : tenants === 'each'
              ? `${label}-${w}`
              : `${label}-${w}-${i}`;
        const started = performance.now();
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const client = await pool.connect();
            try {
              for (let i = 0; i < per; i++)
                await client.query(
                  `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
                   VALUES (now(), $1, $2, 'accepted', '{"jobId": "bench"}')`,
                  [`s-${label}-${w}-${i}`, tenantOf(w, i)],
                );
            } finally {
              client.release();
            }
          }),
        );
        return (per * writers) / ((performance.now() - started) / 1000);
      };
      /** One statement of `size` rows per transaction over `tenants` tenants, as the flusher and the intake write. */
      const batches = async (label: string, size: number, tenants: number): Promise<number> => {
        const started = performance.now();
        let done = 0;
        for (; done < rows; done += size)
          await pool.query(
            `INSERT INTO audit_logs (at, signal_id, tenant, event, details)
             SELECT now(), 's-' || $1 || '-' || g, $1 || '-' || (g % $3), 'closed', '{"outcome": "TP_HIT"}'
             FROM generate_series(1, $2) g`,
            [`${label}-${done}`, size, tenants],
          );
        return done / ((performance.now() - started) / 1000);
      };

      const cases: [string, () => Promise<number>][] = [
        ['insert_1conn', () => singles('one', 1, 'each')],
        ['insert_4conn_4tenants', () => singles('four', 4, 'each')],
        ['insert_4conn_1tenant', () => singles('shared', 4, 'shared')],
        ['insert_batch1000', () => batches('batch', 1000, 8)],
        ['insert_batch64_1tenant', () => batches('b64', 64, 1)],
        ['insert_batch1000_1tenant', () => batches('b1000', 1000, 1)],
        ['insert_1conn_new_tenants', () => singles('new', 1, 'new')],
      ];
      for (const [figure, measure] of cases) {
        await pool.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_chain');
        const bare = await measure();
        await pool.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_chain');
        const chained = await measure();
        report({ name: `audit.rows_per_sec.${figure}.no_chain`, value: bare, unit: 'rows/s' });
        report({ name: `audit.rows_per_sec.${figure}`, value: chained, unit: 'rows/s' });
        report({ name: `audit.chain_cost_ratio.${figure}`, value: chained / bare, unit: 'ratio' });
      }

      // Only the chained rows are in chains; the bare ones are outside them, which verify reports
      // (once) after walking every chain, as it would in production.
      const { rows: counted } = await pool.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM audit_logs WHERE chain_seq IS NOT NULL',
      );
      const client = await pool.connect();
      try {
        const started = performance.now();
        const result = await verifyAudit({ db: client });
        const seconds = (performance.now() - started) / 1000;
        const verified = result.chains.reduce((n, c) => n + c.rows, 0);
        if (verified !== Number(counted[0]!.n))
          throw new Error(`verified ${verified} of ${counted[0]!.n} chained rows`);
        report({ name: 'audit.verify_rows_per_sec', value: verified / seconds, unit: 'rows/s' });
        say(`verified ${verified} rows in ${result.chains.length} chains in ${seconds.toFixed(1)} s`);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
}
