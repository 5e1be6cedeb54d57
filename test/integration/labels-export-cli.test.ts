/**
 * `outcome-tracker labels` and `outcome-tracker export --tenant` against outcomes the live
 * pipeline stored (intake, shard workers and flusher in this process, real Redis and
 * PostgreSQL): the exact rows, each tenant's alone, and the filters.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import { exportCommand } from '../../src/cli/exportCommand.ts';
import { labelsCommand } from '../../src/cli/labelsCommand.ts';
import { replaySync } from '../../src/replay/replay.ts';
import { captureIo } from '../support/captureIo.ts';
import { useLivePipeline } from '../support/livePipeline.ts';
import {
  createTestDatabase,
  redisUrl,
  useRedisNamespace,
  useResourceTracker,
  type TestDatabase,
} from '../support/services.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARDS = 2;
const T = 1_700_000_000_000;
const tick = (symbol: string, dt: number, price: number): Tick => ({ symbol, ts: T + dt, price });

/**
 * acme: a long that takes its profit (TP_HIT), a short stopped out (SL_HIT), a limit cancelled
 * before its fill (CANCELLED, never held), one still open. globex: a long on acme's symbol that
 * takes its profit a tick later, and a payload naming globex that is rejected.
 */
const SIGNALS = [
  {
    v: 1,
    id: 'acme-tp',
    tenant: 'acme',
    symbol: 'XA',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    takeProfits: [{ price: 110, fraction: 1 }],
    stopLoss: { price: 95 },
    strategy: 'trend',
    model: 'gbm',
    modelVersion: '1.0',
    confidence: 0.7,
    meta: { f: 1 },
  },
  {
    v: 1,
    id: 'acme-sl',
    tenant: 'acme',
    symbol: 'XB',
    side: 'short',
    createdAt: T,
    entry: { type: 'market' },
    takeProfits: [{ price: 90, fraction: 1 }],
    stopLoss: { price: 105 },
    model: 'gbm',
    modelVersion: '1.1',
    meta: { note: 'a,"b"' },
  },
  {
    v: 1,
    id: 'acme-cancel',
    tenant: 'acme',
    symbol: 'XC',
    side: 'long',
    createdAt: T,
    entry: { type: 'limit', price: 50 },
    model: 'gbm',
    modelVersion: '1.0',
  },
  {
    v: 1,
    id: 'acme-open',
    tenant: 'acme',
    symbol: 'XC',
    side: 'long',
    createdAt: T,
    entry: { type: 'market' },
    stopLoss: { price: 10 },
  },
  {
    v: 1,
    id: 'globex-tp',
    tenant: 'globex',
    symbol: 'XA',
    side: 'long',
    createdAt: T + 1500,
    entry: { type: 'market' },
    takeProfits: [{ price: 111, fraction: 1 }],
    model: 'gbm',
    modelVersion: '1.0',
  },
  {
    v: 1,
    id: 'globex-bad',
    tenant: 'globex',
    symbol: 'XB',
    side: 'sideways',
    createdAt: T,
    entry: { type: 'market' },
  },
];
const TICKS = [
  tick('XA', 1000, 100),
  tick('XA', 2000, 98),
  tick('XA', 3000, 110.5),
  tick('XA', 4000, 112),
  tick('XB', 1000, 100),
  tick('XB', 2000, 97),
  tick('XB', 3000, 106),
  tick('XC', 1000, 60),
];
const OPS = [{ op: 'cancel', id: 'acme-cancel', ts: T + 1500 }];

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

describe('labels and export --tenant', () => {
  const ns = useRedisNamespace('labels-cli');
  const tracker = useResourceTracker();
  const pipeline = useLivePipeline({
    db: {
      get url() {
        return db.url;
      },
    },
    ns,
    tracker,
    shards: SHARDS,
  });

  /** The signals, ticks and operations through the live pipeline, outcomes flushed to PostgreSQL. */
  async function stored(): Promise<void> {
    const live = await pipeline.start();
    // One at a time: the intake runs jobs concurrently, and export prints in received order.
    for (const signal of SIGNALS) {
      await live.submitSignals([signal], { attempts: 1 });
      await live.waitUntilDrained();
    }
    await live.publishTicks(TICKS.filter((t) => t.ts <= T + 1000));
    await live.waitUntilDrained();
    await live.submitOps(OPS, { attempts: 1 });
    await live.waitUntilDrained();
    await live.publishTicks(TICKS.filter((t) => t.ts > T + 1000));
    await live.waitUntilDrained();
  }

  const env = () => ({
    REDIS_URL: redisUrl(),
    DATABASE_URL: db.url,
    QUEUE_PREFIX: ns.prefix,
    SHARDS: String(SHARDS),
  });

  async function labels(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { io, stdout, stderr } = captureIo();
    const code = await labelsCommand(args, io, { DATABASE_URL: db.url });
    return { code, stdout: stdout(), stderr: stderr() };
  }

  const replayed = (ids: string[]): string[] =>
    replaySync({ signals: SIGNALS, ticks: TICKS, ops: OPS })
      .lines.filter((l) => ids.includes(l.id!))
      .map((l) => JSON.stringify(l));

  /** The rows every closed signal must give, in (closedAt, signalId) order; worked out by hand. */
  const ROWS = [
    {
      signalId: 'acme-cancel',
      tenant: 'acme',
      symbol: 'XC',
      side: 'long',
      strategy: null,
      model: 'gbm',
      modelVersion: '1.0',
      createdAt: T,
      closedAt: T + 1500,
      confidence: null,
      meta: null,
      outcome: 'CANCELLED',
      barrierLabel: null,
      signLabel: null,
      rMultiple: null,
      netReturn: null,
      mfe: null,
      mae: null,
      holdingMs: null,
    },
    {
      // Short from 100, the stop at 105 gapped through at 106: -6 %, risk 5 %.
      signalId: 'acme-sl',
      tenant: 'acme',
      symbol: 'XB',
      side: 'short',
      strategy: null,
      model: 'gbm',
      modelVersion: '1.1',
      createdAt: T,
      closedAt: T + 3000,
      confidence: null,
      meta: { note: 'a,"b"' },
      outcome: 'SL_HIT',
      barrierLabel: -1,
      signLabel: -1,
      rMultiple: -1.2,
      netReturn: -0.06,
      mfe: 0.03,
      mae: -0.06,
      holdingMs: 2000,
    },
    {
      signalId: 'acme-tp',
      tenant: 'acme',
      symbol: 'XA',
      side: 'long',
      strategy: 'trend',
      model: 'gbm',
      modelVersion: '1.0',
      createdAt: T,
      closedAt: T + 3000,
      confidence: 0.7,
      meta: { f: 1 },
      outcome: 'TP_HIT',
      barrierLabel: 1,
      signLabel: 1,
      rMultiple: 2,
      netReturn: 0.1,
      mfe: 0.105,
      mae: -0.02,
      holdingMs: 2000,
    },
    {
      // Filled at 98 (the first tick after it was created), out at its TP of 111; no stop, no R.
      signalId: 'globex-tp',
      tenant: 'globex',
      symbol: 'XA',
      side: 'long',
      strategy: null,
      model: 'gbm',
      modelVersion: '1.0',
      createdAt: T + 1500,
      closedAt: T + 4000,
      confidence: null,
      meta: null,
      outcome: 'TP_HIT',
      barrierLabel: 1,
      signLabel: 1,
      rMultiple: null,
      netReturn: 13 / 98,
      mfe: 14 / 98,
      mae: 0,
      holdingMs: 2000,
    },
  ];
  const jsonLines = (rows: typeof ROWS): string => rows.map((r) => JSON.stringify(r) + '\n').join('');
  const ACME_CSV =
    'signalId,tenant,symbol,side,strategy,model,modelVersion,createdAt,closedAt,confidence,meta,outcome,barrierLabel,signLabel,rMultiple,netReturn,mfe,mae,holdingMs\r\n' +
    'acme-cancel,acme,XC,long,,gbm,1.0,1700000000000,1700000001500,,,CANCELLED,,,,,,,\r\n' +
    'acme-sl,acme,XB,short,,gbm,1.1,1700000000000,1700000003000,,"{""note"":""a,\\""b\\""""}",SL_HIT,-1,-1,-1.2,-0.06,0.03,-0.06,2000\r\n' +
    'acme-tp,acme,XA,long,trend,gbm,1.0,1700000000000,1700000003000,0.7,"{""f"":1}",TP_HIT,1,1,2,0.1,0.105,-0.02,2000\r\n';

  it('labels prints one JSON line per closed signal of every tenant, in (closedAt, signalId) order, never an open one', async () => {
    await stored();
    const all = await labels([]);
    expect(all).toEqual({ code: 0, stdout: jsonLines(ROWS), stderr: 'labels: 4 closed signals\n' });
    // The returns are those replay computes for the same signals, ticks and operation.
    const lines = new Map(
      replaySync({ signals: SIGNALS, ticks: TICKS, ops: OPS }).lines.map((l) => [l.id, l as object]),
    );
    for (const row of ROWS) {
      const line = lines.get(row.signalId) as Record<string, unknown>;
      for (const field of ['closedAt', 'holdingMs', 'netReturn', 'rMultiple', 'mfe', 'mae'] as const)
        expect(row[field], `${row.signalId}.${field}`).toBe(line[field] ?? null);
    }
    await pipeline.stop();
  });

  it('labels --tenant keeps to one tenant, --model and --model-version filter, --format csv and --out write the exact CSV', async () => {
    await stored();
    const dir = await mkdtemp(join(tmpdir(), 'ot-labels-'));
    try {
      const file = join(dir, 'acme.csv');
      const written = await labels(['--tenant', 'acme', '--format', 'csv', '--out', file]);
      expect(written).toEqual({ code: 0, stdout: '', stderr: 'labels: 3 closed signals\n' });
      expect(await readFile(file, 'utf8')).toBe(ACME_CSV);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect((await labels(['--tenant', 'globex'])).stdout).toBe(jsonLines(ROWS.slice(3)));
    expect((await labels(['--model', 'gbm', '--model-version', '1.0'])).stdout).toBe(
      jsonLines([ROWS[0]!, ROWS[2]!, ROWS[3]!]),
    );
    expect(await labels(['--tenant', 'globex', '--model-version', '1.1'])).toEqual({
      code: 0,
      stdout: '',
      stderr: 'labels: 0 closed signals\n',
    });
    expect(await labels(['--tenant', 'nobody', '--format', 'csv'])).toEqual({
      code: 0,
      stdout: ACME_CSV.split('\r\n')[0] + '\r\n',
      stderr: 'labels: 0 closed signals\n',
    });
    // As an operator runs it: the same bytes from the installed command.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['bin/outcome-tracker.js', 'labels', '--tenant', 'acme', '--format', 'csv'],
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: db.url }, timeout: 30_000 },
    );
    expect(stdout).toBe(ACME_CSV);
    await pipeline.stop();
  });

  it('labels refuses bad arguments before it connects', async () => {
    await expect(labels(['--format', 'xml'])).rejects.toThrow(/--format must be jsonl or csv/);
    await expect(labels(['--tenant', ''])).rejects.toThrow(/--tenant must not be empty/);
    await expect(labels(['--limit', '3'])).rejects.toThrow(/--limit/);
  });

  it('export --tenant prints that tenant’s signals alone, rejected payloads naming it included, each as replay prints it', async () => {
    await stored();
    const run = async (args: string[]) => {
      const { io, stdout, stderr } = captureIo();
      const code = await exportCommand(args, io, env());
      return { code, lines: stdout().trimEnd().split('\n').filter(Boolean), stderr: stderr() };
    };
    // In received order, each line exactly as replay prints it.
    const globex = await run(['--tenant', 'globex']);
    expect(globex.code).toBe(0);
    expect(globex.lines).toEqual(replayed(['globex-tp', 'globex-bad']));
    expect(globex.stderr).toBe('export: 2 signals (1 closed, 1 rejected)\n');
    const acme = await run(['--tenant', 'acme']);
    expect(acme.lines).toEqual(replayed(['acme-tp', 'acme-sl', 'acme-cancel', 'acme-open']));
    expect(acme.stderr).toBe('export: 4 signals (3 closed, 1 open)\n');
    expect((await run([])).lines).toEqual(replayed(SIGNALS.map((s) => s.id)));
    expect(await run(['--tenant', 'nobody'])).toEqual({
      code: 0,
      lines: [],
      stderr: 'export: 0 signals (none)\n',
    });
    await expect(run(['--tenant', ''])).rejects.toThrow(/--tenant must not be empty/);
    await pipeline.stop();
  });
});
