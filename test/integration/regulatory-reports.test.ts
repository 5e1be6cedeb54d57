/**
 * Daily regulatory reports on a real PostgreSQL: one row per tenant and complete UTC day with the
 * counts of what was recorded that day and the audit chain's head at its end; written once
 * however many schedulers run; missed days caught up; exported as CSV and JSON.
 */
import type pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verifyAudit.ts';
import { main } from '../../src/cli/main.ts';
import { regulatoryReportCommand } from '../../src/cli/regulatoryReportCommand.ts';
import { scheduleRecurring } from '../../src/processes/scheduleRecurring.ts';
import { writeDailyReports } from '../../src/reports/writeDailyReports.ts';
import { REPORT_CSV_COLUMNS } from '../../src/reports/reportText.ts';
import { readRegulatoryReports, type RegulatoryReport } from '../../src/storage/pageRegulatoryReports.ts';
import { captureIo } from '../support/captureIo.ts';
import { DEFAULT_GUARDS } from '../../src/live/createIntakeWorkers.ts';
import { createWebServer } from '../../src/web/createWebServer.ts';
import { v1Routes } from '../../src/web/v1/v1Routes.ts';
import { createTestKey, OPEN_ACCESS } from '../support/apiKeys.ts';
import { quit } from '../support/liveWeb.ts';
import { useRedisNamespace, useResourceTracker, withTestDatabase } from '../support/services.ts';

const D1 = '2026-11-20';
const D2 = '2026-11-21';
const D3 = '2026-11-22';
/** Half an hour into D3: D1 and D2 are over (grace included), D3 is not. */
const NOW = Date.parse(`${D3}T00:30:00Z`);

interface Submission {
  tenant: string | null;
  at: string;
  /** Error codes of a rejected submission; undefined: accepted. */
  codes?: string[];
}
interface Outcome {
  tenant: string;
  at: string;
  outcome: string;
}

const SUBMISSIONS: Submission[] = [
  { tenant: 'r-acme', at: `${D1}T00:00:00Z` },
  { tenant: 'r-acme', at: `${D1}T09:00:00Z` },
  { tenant: 'r-acme', at: `${D1}T10:00:00Z`, codes: ['INVALID_PRICE', 'MISSING_FIELD', 'INVALID_PRICE'] },
  { tenant: 'r-acme', at: `${D1}T11:00:00Z`, codes: ['INVALID_PRICE'] },
  { tenant: 'r-bolt', at: `${D1}T12:00:00Z` },
  { tenant: null, at: `${D1}T12:30:00Z`, codes: ['BAD_JSON'] },
  { tenant: 'r-acme', at: `${D2}T08:00:00Z` },
  { tenant: 'r-bolt', at: `${D2}T23:59:59.999Z`, codes: ['DUPLICATE_ID'] },
  { tenant: 'r-acme', at: `${D3}T00:00:00Z` },
];
const OUTCOMES: Outcome[] = [
  { tenant: 'r-acme', at: `${D1}T20:00:00Z`, outcome: 'TP_HIT' },
  { tenant: 'r-acme', at: `${D1}T21:00:00Z`, outcome: 'TP_HIT' },
  { tenant: 'r-acme', at: `${D2}T01:00:00Z`, outcome: 'SL_HIT' },
  { tenant: 'r-bolt', at: `${D2}T02:00:00Z`, outcome: 'EXPIRED' },
  { tenant: 'r-bolt', at: `${D3}T00:00:00.001Z`, outcome: 'TP_HIT' },
];

/** Writes the fixture as the intake and the flusher would, at the fixture's times; returns audit ids in order. */
async function seed(client: pg.ClientBase): Promise<void> {
  let n = 0;
  for (const s of SUBMISSIONS) {
    const id = `sig-${n++}`;
    if (s.codes === undefined) {
      await client.query(
        `INSERT INTO signals (id, status, tenant, symbol, side, created_at, payload, normalized, received_at)
         VALUES ($1, 'accepted', $2, 'BTCUSDT', 'long', $3, '{}', '{}', $3)`,
        [id, s.tenant, s.at],
      );
      await client.query(
        `INSERT INTO audit_logs (at, signal_id, tenant, event, details, recorded_at) VALUES ($3, $1, $2, 'accepted', '{}', $3)`,
        [id, s.tenant, s.at],
      );
    } else {
      await client.query(
        `INSERT INTO signals (id, status, tenant, payload, errors, received_at) VALUES ($1, 'rejected', $2, '{}', '["bad"]', $3)`,
        [id, s.tenant, s.at],
      );
      await client.query(
        `INSERT INTO audit_logs (at, signal_id, tenant, event, details, recorded_at) VALUES ($3, $1, $2, 'rejected', $4, $3)`,
        [id, s.tenant, s.at, JSON.stringify({ errors: ['bad'], codes: s.codes })],
      );
    }
  }
  for (const o of OUTCOMES) {
    const id = `out-${n++}`;
    await client.query(
      `INSERT INTO signal_outcomes (signal_id, closed_at, tenant, symbol, side, outcome, recorded_at)
       VALUES ($1, $2, $3, 'BTCUSDT', 'long', $4, $2)`,
      [id, o.at, o.tenant, o.outcome],
    );
    await client.query(
      `INSERT INTO audit_logs (at, signal_id, tenant, event, details, recorded_at) VALUES ($3, $1, $2, 'closed', '{}', $3)`,
      [id, o.tenant, o.at],
    );
  }
}

/** The chain head of `tenant` at the end of `day`, read straight from audit_logs. */
async function headAt(client: pg.ClientBase, tenant: string, day: string): Promise<[number, string]> {
  const res = await client.query<{ seq: string; hash: string }>(
    `SELECT chain_seq::text AS seq, row_hash AS hash FROM audit_logs a
     WHERE tenant = $1 AND recorded_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
     ORDER BY a.chain_seq DESC LIMIT 1`,
    [tenant, day],
  );
  return [Number(res.rows[0]!.seq), res.rows[0]!.hash];
}

/** What the report of (tenant, day) must say, counted from the fixture. */
function expected(
  tenant: string,
  day: string,
  head: [number, string],
): Omit<RegulatoryReport, 'generatedAt'> {
  const subs = SUBMISSIONS.filter((s) => s.tenant === tenant && s.at.startsWith(day));
  const outs = OUTCOMES.filter((o) => o.tenant === tenant && o.at.startsWith(day));
  const byCode: Record<string, number> = {};
  for (const s of subs) for (const code of new Set(s.codes ?? [])) byCode[code] = (byCode[code] ?? 0) + 1;
  const byOutcome: Record<string, number> = {};
  for (const o of outs) byOutcome[o.outcome] = (byOutcome[o.outcome] ?? 0) + 1;
  return {
    tenant,
    day,
    signalsReceived: subs.length,
    signalsAccepted: subs.filter((s) => s.codes === undefined).length,
    signalsRejected: subs.filter((s) => s.codes !== undefined).length,
    rejectedByCode: byCode,
    closed: outs.length,
    closedByOutcome: byOutcome,
    auditRows: subs.length + outs.length,
    auditHeadSeq: head[0],
    auditHeadHash: head[1],
  };
}

async function reportsOf(db: pg.ClientBase): Promise<Omit<RegulatoryReport, 'generatedAt'>[]> {
  const out = [];
  for await (const { generatedAt: _, ...r } of readRegulatoryReports(db, {
    tenant: null,
    from: null,
    to: null,
  }))
    out.push(r);
  return out;
}

describe('daily regulatory reports', () => {
  const resources = useResourceTracker();

  it('two schedulers at once write one row per tenant and complete day, with the day’s counts and chain head', async () => {
    await withTestDatabase(resources, async (db) => {
      const client = await resources.client(db.url);
      await seed(client);
      const log = pino({ level: 'silent' });
      const pools = [resources.pool(db.url), resources.pool(db.url)];
      // Each schedule runs once at start; stopping waits for that run.
      const stops = pools.map((pool) =>
        scheduleRecurring({
          name: 'regulatory-reports',
          cron: '15 * * * *',
          log,
          run: () => writeDailyReports({ db: pool, now: () => NOW }),
          failure: 'reports failed',
        }),
      );
      for (const stop of stops) await stop();

      const want = [];
      for (const day of [D1, D2])
        for (const tenant of ['r-acme', 'r-bolt'])
          want.push(expected(tenant, day, await headAt(client, tenant, day)));
      expect(await reportsOf(client)).toEqual(want);
      // The fixture's own counts agree with the tables (the report is not checked against itself).
      const received = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM signals WHERE tenant = 'r-acme'
         AND received_at >= '${D1}T00:00:00Z' AND received_at < '${D2}T00:00:00Z'`,
      );
      expect(received.rows[0]!.n).toBe(want[0]!.signalsReceived);

      // A rerun writes nothing.
      expect(await writeDailyReports({ db: pools[0]!, now: () => NOW })).toBe(0);

      // Three days later, two writers at once: between them they write D3 (with the rows
      // recorded at its first instant) and two empty days, each once, and neither fails.
      const later3 = () => NOW + 3 * 86_400_000;
      const written = await Promise.all(pools.map((pool) => writeDailyReports({ db: pool, now: later3 })));
      expect(written[0]! + written[1]!).toBe(6);
      const later = (await reportsOf(client)).filter((r) => r.day > D2);
      expect(later.map((r) => [r.day, r.tenant, r.signalsReceived, r.closed, r.auditHeadSeq])).toEqual([
        [D3, 'r-acme', 1, 0, 9],
        [D3, 'r-bolt', 0, 1, 4],
        ['2026-11-23', 'r-acme', 0, 0, 9],
        ['2026-11-23', 'r-bolt', 0, 0, 4],
        ['2026-11-24', 'r-acme', 0, 0, 9],
        ['2026-11-24', 'r-bolt', 0, 0, 4],
      ]);
      for (const pool of pools) await pool.end();
      await client.end();
    });
  });

  it('verify-audit holds the chain to the heads the reports recorded: a consistent rewrite of history is caught', async () => {
    await withTestDatabase(resources, async (db) => {
      const client = await resources.client(db.url);
      await seed(client);
      await writeDailyReports({ db: client, now: () => NOW });
      expect((await verifyAudit({ db: client })).problems).toEqual([]);

      // A superuser changes r-acme's second row and re-hashes every row after it and the head:
      // the chain alone is consistent again.
      await client.query('ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete');
      await client.query(`
        DO $$
        DECLARE r record; prev text := NULL;
        BEGIN
          FOR r IN SELECT id, at, chain_seq FROM audit_logs WHERE tenant = 'r-acme' ORDER BY chain_seq LOOP
            IF r.chain_seq = 2 THEN
              UPDATE audit_logs SET details = '{"rewritten": true}' WHERE id = r.id AND at = r.at;
            END IF;
            IF r.chain_seq >= 2 THEN
              UPDATE audit_logs SET prev_hash = prev,
                row_hash = audit_chain_hash(prev, audit_chain_text(chain_seq, id, at, recorded_at, tenant,
                  signal_id, event, details, prev_at))
              WHERE id = r.id AND at = r.at;
            END IF;
            SELECT row_hash INTO prev FROM audit_logs WHERE id = r.id AND at = r.at;
          END LOOP;
          UPDATE audit_chain_heads SET head_hash = prev WHERE tenant = 'r-acme';
        END $$`);
      await client.query('ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_delete');
      const { problems } = await verifyAudit({ db: client });
      const [d1Head] = await headAt(client, 'r-acme', D1);
      expect(problems).toEqual([
        expect.objectContaining({ kind: 'anchor', tenant: 'r-acme', chainSeq: d1Head }),
      ]);
      expect(problems[0]!.message).toContain(`regulatory report of ${D1}`);
      await client.end();
    });
  });

  it('regulatory-report exports CSV and JSON, filtered by tenant and days; bad days are usage errors', async () => {
    await withTestDatabase(resources, async (db) => {
      const client = await resources.client(db.url);
      await seed(client);
      await writeDailyReports({ db: client, now: () => NOW });
      const all = await reportsOf(client);

      const run = async (args: string[]) => {
        const { io, stdout, stderr } = captureIo();
        const code = await regulatoryReportCommand(args, io, { DATABASE_URL: db.url });
        return { code, stdout: stdout(), stderr: stderr() };
      };
      const json = await run(['--format', 'json', '--tenant', 'r-acme']);
      expect(json.code).toBe(0);
      expect(json.stderr).toBe('regulatory-report: 2 daily reports\n');
      const parsed = (JSON.parse(json.stdout) as RegulatoryReport[]).map(({ generatedAt: _, ...r }) => r);
      expect(parsed).toEqual(all.filter((r) => r.tenant === 'r-acme'));

      const csv = await run(['--from', D2, '--to', D2]);
      expect(csv.code).toBe(0);
      const lines = csv.stdout.split('\r\n');
      expect(lines[0]).toBe(REPORT_CSV_COLUMNS.join(','));
      expect(lines).toHaveLength(4); // header, two tenants, and the empty string after the last CRLF
      const bolt = all.find((r) => r.tenant === 'r-bolt' && r.day === D2)!;
      expect(lines[2]).toMatch(
        new RegExp(
          `^r-bolt,${D2},1,0,1,"\\{""DUPLICATE_ID"":1\\}",1,"\\{""EXPIRED"":1\\}",2,${bolt.auditHeadSeq},${bolt.auditHeadHash},\\d{4}-`,
        ),
      );

      const { io, stderr } = captureIo();
      expect(await main(['regulatory-report', '--from', '2026-02-30'], io)).toBe(2);
      expect(stderr()).toContain('--from must be a day as YYYY-MM-DD, got "2026-02-30"');
      await client.end();
    });
  });

  const ns = useRedisNamespace('reports');

  it("GET /v1/reports serves a key its own tenant's reports only, as JSON pages or CSV", async () => {
    await withTestDatabase(resources, async (db) => {
      const client = await resources.client(db.url);
      await seed(client);
      await writeDailyReports({ db: client, now: () => NOW });
      const all = await reportsOf(client);
      const acme = await createTestKey(client, 'r-acme', ['read']);
      const admin = await createTestKey(client, 'ops', ['admin']);
      await client.end();

      const redis = resources.redis();
      const connection = resources.redis({}, 'bullmq connection');
      const pool = resources.pool(db.url);
      const log = pino({ level: 'silent' });
      const app = await createWebServer({
        redis,
        connection,
        pool,
        prefix: ns.prefix,
        now: Date.now,
        shards: 1,
        log,
        access: OPEN_ACCESS,
        routes: v1Routes({
          pool,
          redis,
          connection,
          prefix: ns.prefix,
          now: Date.now,
          shards: 1,
          guards: DEFAULT_GUARDS,
          tickBatchSize: 1000,
          bodyLimit: 256 * 1024,
          log,
        }),
      });
      try {
        const get = (url: string, headers: Record<string, string>) =>
          app.inject({ method: 'GET', url, headers });
        const strip = (reports: RegulatoryReport[]) => reports.map(({ generatedAt: _, ...r }) => r);

        const first = await get('/v1/reports?limit=1', acme.bearer);
        expect(first.statusCode).toBe(200);
        expect(strip(first.json().reports)).toEqual([all.find((r) => r.tenant === 'r-acme' && r.day === D1)]);
        const cursor = first.json().nextCursor as string;
        expect(first.headers['next-cursor']).toBe(cursor);
        const second = await get(`/v1/reports?limit=1&cursor=${cursor}`, acme.bearer);
        expect(strip(second.json().reports)).toEqual([
          all.find((r) => r.tenant === 'r-acme' && r.day === D2),
        ]);
        const third = await get(`/v1/reports?limit=1&cursor=${second.json().nextCursor}`, acme.bearer);
        expect(third.json()).toEqual({ reports: [], nextCursor: null });

        const other = await get('/v1/reports?tenant=r-bolt', acme.bearer);
        expect(other.statusCode).toBe(403);
        expect(other.json().error.code).toBe('TENANT_FORBIDDEN');

        const everyone = await get(`/v1/reports?from=${D2}&to=${D2}`, admin.bearer);
        expect(strip(everyone.json().reports)).toEqual(all.filter((r) => r.day === D2));

        const csv = await get(`/v1/reports?from=${D1}&to=${D1}`, { ...acme.bearer, accept: 'text/csv' });
        expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
        const lines = csv.body.split('\r\n');
        expect(lines[0]).toBe(REPORT_CSV_COLUMNS.join(','));
        expect(lines[1]).toMatch(new RegExp(`^r-acme,${D1},4,2,2,`));
        expect(lines).toHaveLength(3);

        const bad = await get('/v1/reports?from=2026-13-01', acme.bearer);
        expect(bad.statusCode).toBe(400);
      } finally {
        await app.close();
        await pool.end();
        await Promise.all([quit(redis), quit(connection)]);
      }
    });
  });
});
