import { execFileSync } from 'node:child_process';
import { farSignal } from './farSignal.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NormalizedSignal, SignalContext } from '../machines/signalContext.ts';
import { sendToSignal, startSignal } from '../machines/signalMachine.ts';
import type { Tick } from '../machines/types.ts';
import { generateSignals, seededRandom, spreadAnchors } from '../src/demo/generateSignals.ts';
import { SymbolBook } from '../src/engine/SymbolBook.ts';
import { replay } from '../src/replay/replay.ts';
import { readTicks } from '../src/ticks/readTicks.ts';
import type { Report } from './Report.ts';

const SYMBOL = 'BENCH';
const P0 = 100;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * `farSignal` with the v1.2 mix: a tenth of the signals (not the trailing tenth) also carry
 * slippage of 1–10 bps and a freqtrade-like return table, 5–20 % at once, then lower at 40 and
 * 100 minutes (jittered). Those steps fall after the 33 minutes of market time a run covers, so
 * the figures stay the idle cost of a signal; a step that falls due costs one delivery, like a
 * time limit (the events benchmark measures deliveries).
 */
function benchSignal(i: number, rnd: () => number): NormalizedSignal {
  const s = farSignal(`b${i}`, i, SYMBOL, P0, 0, rnd);
  if (i % 10 === 5) {
    s.slippageBps = 1 + 9 * rnd();
    const first = 500 + 1500 * rnd();
    s.roi = [
      { afterMs: 0, returnBps: first },
      { afterMs: Math.round(2_400_000 * (1 + rnd())), returnBps: first * 0.6 },
      { afterMs: Math.round(6_000_000 * (1 + rnd())), returnBps: first * 0.3 },
    ];
  }
  return s;
}

/** A book holding `n` open signals, all filled by one first tick at P0. */
function openBook(n: number, seed: number): SymbolBook {
  const rnd = seededRandom(seed);
  const book = new SymbolBook(SYMBOL);
  for (let i = 0; i < n; i++) book.add(startSignal(benchSignal(i, rnd)));
  book.applyTick({ symbol: SYMBOL, ts: 1, price: P0 });
  if (book.openCount !== n) throw new Error(`expected ${n} open, have ${book.openCount}`);
  return book;
}

/** A random walk within ±2 % of P0: touches none of the far levels. */
function quietTicks(count: number, seed: number): Tick[] {
  const rnd = seededRandom(seed);
  const ticks: Tick[] = [];
  let p = P0;
  for (let i = 0; i < count; i++) {
    p = Math.min(P0 * 1.02, Math.max(P0 * 0.98, p * (1 + (rnd() - 0.5) * 0.001)));
    ticks.push({ symbol: SYMBOL, ts: 2 + i, price: Number(p.toFixed(4)) });
  }
  return ticks;
}

function ticksPerSec(book: SymbolBook, ticks: Tick[], report: Report, label: string): number {
  const openBefore = book.openCount;
  // Warm up on a prefix, then time the rest.
  const warm = Math.min(20_000, ticks.length / 10);
  for (let i = 0; i < warm; i++) book.applyTick(ticks[i]!);
  const t0 = process.hrtime.bigint();
  for (let i = warm; i < ticks.length; i++) book.applyTick(ticks[i]!);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  report({
    name: `engine.closed_during_run.open_${label}`,
    value: openBefore - book.openCount,
    unit: 'signals',
  });
  return (ticks.length - warm) / seconds;
}

async function openBenches(report: Report, sizes: [string, number][]): Promise<void> {
  const ticks = quietTicks(2_000_000, 11);
  for (const [label, n] of sizes) {
    gc();
    const before = process.memoryUsage().heapUsed;
    const book = openBook(n, 5);
    gc();
    const after = process.memoryUsage().heapUsed;
    const shifted = ticks.map((t) => ({ ...t, ts: t.ts + 1 }));
    report({
      name: `engine.ticks_per_sec.open_${label}`,
      value: ticksPerSec(book, shifted, report, label),
      unit: 'ticks/s',
    });
    if (n === 1_000_000) {
      report({ name: 'engine.heap_bytes_per_open_signal', value: (after - before) / n, unit: 'bytes' });
    }
  }
}

/** Ticks that do trigger: a dense ladder of signals swept by a saw-tooth price. */
function eventBench(report: Report): void {
  const rnd = seededRandom(3);
  const n = 100_000;
  let events = 0;
  const book = new SymbolBook(SYMBOL, { onChange: () => events++ });
  for (let i = 0; i < n; i++) {
    const side = i % 2 === 0 ? 'long' : 'short';
    const limit = Number((P0 * (0.97 + 0.06 * rnd())).toFixed(3));
    const dir = side === 'long' ? 1 : -1;
    book.add(
      startSignal({
        v: 1,
        id: `e${i}`,
        symbol: SYMBOL,
        side,
        createdAt: 0,
        entry: { type: 'limit', price: limit },
        takeProfits: [{ price: Number((limit * (1 + dir * 0.01)).toFixed(3)), fraction: 1 }],
        stopLoss: { price: Number((limit * (1 - dir * 0.01)).toFixed(3)) },
        breakevenOffsetBps: 0,
        toleranceBps: 0,
        confirmMs: 0,
        trigger: 'last',
        stopFill: 'trigger',
        feeBps: 0,
        slippageBps: 0,
        tenant: 'default',
      }),
    );
  }
  book.applyTick({ symbol: SYMBOL, ts: 1, price: P0 * 1.2 }); // first tick: nothing fills (longs wait below, shorts above)
  events = 0;
  const t0 = process.hrtime.bigint();
  let ts = 2;
  let ticks = 0;
  for (let sweep = 0; sweep < 40 && book.openCount > 0; sweep++) {
    for (let k = 0; k <= 400; k++) {
      const x = sweep % 2 === 0 ? k / 400 : 1 - k / 400;
      book.applyTick({ symbol: SYMBOL, ts: ts++, price: Number((P0 * (0.95 + 0.1 * x)).toFixed(3)) });
      ticks++;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  report({ name: 'engine.events_per_sec', value: events / seconds, unit: 'events/s' });
  report({ name: 'engine.events_bench_ticks', value: ticks, unit: 'ticks' });

  // The same machine, bare: one transition per TICK that moves an open signal's excursions.
  let ctx: SignalContext = startSignal(farSignal('bare', 0, SYMBOL, P0, 0, seededRandom(1)));
  ctx = sendToSignal(ctx, { type: 'TICK', ts: 1, price: P0 });
  const m = 500_000;
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < m; i++) sendToSignal(ctx, { type: 'TICK', ts: 2 + i, price: P0 + (i % 7) * 0.01 });
  const s1 = Number(process.hrtime.bigint() - t1) / 1e9;
  report({ name: 'engine.bare_transitions_per_sec', value: m / s1, unit: 'transitions/s' });
}

async function replayBench(report: Report): Promise<void> {
  const file = ibmTradeFile();
  const ticks: Tick[] = [];
  for await (const t of readTicks(file)) ticks.push(t);
  const dir = mkdtempSync(join(tmpdir(), 'ot-bench-'));
  const signalsFile = join(dir, 'signals.jsonl');
  const signals = generateSignals(spreadAnchors(ticks, 400), { count: 400, seed: 7 });
  writeFileSync(signalsFile, signals.map((s) => JSON.stringify(s)).join('\n') + '\n');

  const t0 = process.hrtime.bigint();
  await replay({ signals, ticks: readTicks(file) });
  const inProcess = Number(process.hrtime.bigint() - t0) / 1e9;
  report({ name: 'replay.inprocess_ticks_per_sec', value: ticks.length / inProcess, unit: 'ticks/s' });

  const t1 = process.hrtime.bigint();
  execFileSync(
    process.execPath,
    [
      'bin/outcome-tracker.js',
      'replay',
      '--ticks',
      file,
      '--signals',
      signalsFile,
      '--out',
      join(dir, 'out.jsonl'),
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const cli = Number(process.hrtime.bigint() - t1) / 1e9;
  report({ name: 'replay.ticks_per_sec', value: ticks.length / cli, unit: 'ticks/s' });
}

/** The bundled IBM trade file (data/README.md). */
function ibmTradeFile(): string {
  return 'data/lean_usequity_IBM_trades_2013-10-07_11.csv.gz';
}

export async function run(report: Report, flags: string[]): Promise<void> {
  // --sizes=10k,1m picks the open-signal sizes; --only=open|events|replay picks one part.
  const sizes: [string, number][] = [
    ['10k', 10_000],
    ['100k', 100_000],
    ['1m', 1_000_000],
  ];
  const sizeFlag = flags
    .find((f) => f.startsWith('--sizes='))
    ?.slice('--sizes='.length)
    .split(',');
  const only = flags.find((f) => f.startsWith('--only='))?.slice('--only='.length);
  if (only === undefined || only === 'events') eventBench(report);
  if (only === undefined || only === 'open') {
    await openBenches(report, sizeFlag ? sizes.filter(([label]) => sizeFlag.includes(label)) : sizes);
  }
  if (only === undefined || only === 'replay') await replayBench(report);
}
