/**
 * `outcome-tracker replay` through `main(argv, io)` with in-memory streams: one JSON line per
 * input signal in input order (rejected ones in place, with their reasons), rejections and
 * counts on stderr, `--out`, `--ops`, `--candles`, and usage errors with exit code 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutcomeLine, RejectedLine } from '../../machines/types.ts';
import { main } from '../../src/cli/main.ts';
import { dataFile } from '../support/dataFile.ts';

const dir = mkdtempSync(join(tmpdir(), 'cli-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** A writable stream that keeps what was written. */
class Sink extends Writable {
  text = '';
  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    this.text += chunk.toString();
    done();
  }
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await main(argv, { stdin: Readable.from([]), stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function parseLines(text: string): (OutcomeLine | RejectedLine)[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OutcomeLine | RejectedLine);
}

const ticks = write('ticks.csv', [
  'ts_ms,symbol,price',
  '1000,X,100',
  '2000,X,105',
  '3000,X,110',
  '4000,X,95',
]);

const signal = (fields: Record<string, unknown>): string =>
  JSON.stringify({ v: 1, symbol: 'X', side: 'long', createdAt: 1000, entry: { type: 'market' }, ...fields });

const signals = write('signals.jsonl', [
  signal({ id: 's1', takeProfits: [{ price: 110, fraction: 1 }], stopLoss: { price: 90 } }),
  '{not json',
  signal({ id: 's1', stopLoss: { price: 80 } }),
  '',
  signal({ id: 's2', side: 'up' }),
  signal({ id: 's3', symbol: 'x', side: 'short', entry: { type: 'limit', price: 108 } }),
  signal({ id: 's4', createdAt: 9000 }),
]);

const ops = write('ops.jsonl', [
  JSON.stringify({ op: 'exit', id: 's3', ts: 5000 }),
  JSON.stringify({ op: 'exit', id: 'nope', ts: 1500 }),
  JSON.stringify({ op: 'cancel', id: 's1', ts: 3500 }),
  'nonsense',
  JSON.stringify({ op: 'exit', id: 's4', ts: 1500, why: 'typo' }),
]);

describe('replay command', () => {
  it('writes one JSON line per input signal, in input order, rejected ones in place', async () => {
    const { code, stdout } = await run(['replay', '--ticks', ticks, '--signals', signals]);
    expect(code).toBe(0);
    const lines = parseLines(stdout);
    expect(lines.map((l) => [l.id, l.state])).toEqual([
      ['s1', 'closed'],
      [null, 'rejected'],
      ['s1', 'rejected'],
      ['s2', 'rejected'],
      ['s3', 'open'],
      ['s4', 'pending'],
    ]);
    expect(lines[0]).toEqual({
      id: 's1',
      state: 'closed',
      outcome: 'TP_HIT',
      partial: false,
      fill: { ts: 1000, price: 100 },
      legs: [{ reason: 'TP', level: 1, price: 110, fraction: 1, ts: 3000 }],
      grossReturn: 0.1,
      netReturn: 0.1,
      rMultiple: 1,
      mfe: 0.1,
      mae: 0,
      closedAt: 3000,
      holdingMs: 2000,
    });
    expect(lines[4]).toEqual({
      id: 's3',
      state: 'open',
      fill: { ts: 3000, price: 108 },
      legs: [],
      mfe: (108 - 95) / 108,
      mae: (108 - 110) / 108,
    });
    expect(lines[5]).toEqual({ id: 's4', state: 'pending', legs: [] });
  });

  it('gives rejected signals their reasons: not JSON (id null), a repeated id, a bad field', async () => {
    const { stdout } = await run(['replay', '--ticks', ticks, '--signals', signals]);
    const [, notJson, repeated, bad] = parseLines(stdout) as RejectedLine[];
    expect(notJson).toMatchObject({ id: null, state: 'rejected' });
    expect(Object.keys(notJson!)).toEqual(['id', 'state', 'errors']);
    expect(notJson!.errors.join(' ')).toMatch(/line 2.*not valid JSON/);
    expect(repeated).toMatchObject({ id: 's1', state: 'rejected' });
    expect(repeated!.errors.join(' ')).toMatch(/repeats/);
    expect(bad).toMatchObject({ id: 's2', state: 'rejected' });
    expect(bad!.errors.some((e) => e.startsWith('side:'))).toBe(true);
  });

  it('reports every rejected signal and the counts on stderr', async () => {
    const { stderr } = await run(['replay', '--ticks', ticks, '--signals', signals]);
    expect(stderr).toMatch(/rejected signal \(no id\): line 2: not valid JSON/);
    expect(stderr).toMatch(/rejected signal s1: .*repeats/);
    expect(stderr).toMatch(/rejected signal s2: side:/);
    expect(stderr).toMatch(/6 signals \(.*1 closed.*\)/);
    expect(stderr).toMatch(/3 rejected/);
    expect(stderr).toMatch(/4 rows read, 4 ticks applied, 0 late/);
  });

  it('applies --ops and reports the rejected operations on stderr', async () => {
    const { code, stdout, stderr } = await run([
      'replay',
      '--ticks',
      ticks,
      '--signals',
      signals,
      '--ops',
      ops,
    ]);
    expect(code).toBe(0);
    const s3 = parseLines(stdout)[4];
    expect(s3).toMatchObject({
      id: 's3',
      state: 'closed',
      outcome: 'MANUAL_EXIT',
      legs: [{ reason: 'MANUAL', price: 95, fraction: 1, ts: 5000 }],
      closedAt: 5000,
      holdingMs: 2000,
    });
    const rejected = stderr.split('\n').filter((l) => l.startsWith('rejected operation'));
    expect(rejected).toHaveLength(4);
    expect(stderr).toMatch(/rejected operation \{"op":"exit","id":"nope","ts":1500\}: .*unknown signal/);
    expect(stderr).toMatch(/rejected operation \{"op":"cancel","id":"s1","ts":3500\}: .*already closed/);
    expect(stderr).toMatch(/rejected operation null: line 4: not valid JSON/);
    expect(stderr).toMatch(
      /rejected operation \{"op":"exit","id":"s4","ts":1500,"why":"typo"\}: why: unknown field/,
    );
    expect(stderr).toMatch(/4 operations rejected/);
  });

  it('writes the lines to --out FILE instead of stdout', async () => {
    const out = join(dir, 'out.jsonl');
    const toStdout = await run(['replay', '--ticks', ticks, '--signals', signals]);
    const { code, stdout, stderr } = await run([
      'replay',
      '--ticks',
      ticks,
      '--signals',
      signals,
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(toStdout.stdout);
    expect(stderr).toMatch(/6 signals/);
  });

  it('reads candles with --candles (each bar four ticks: open, low, high, close for a bullish bar)', async () => {
    const candles = write('bars.csv', ['ts_ms,symbol,open,high,low,close', '60000,X,100,112,95,105']);
    const barSignals = write('bar-signals.jsonl', [
      signal({
        id: 'b1',
        createdAt: 60000,
        stopLoss: { price: 96 },
        takeProfits: [{ price: 111, fraction: 1 }],
      }),
    ]);
    const { code, stdout, stderr } = await run([
      'replay',
      '--ticks',
      candles,
      '--candles',
      '--signals',
      barSignals,
    ]);
    expect(code).toBe(0);
    // Filled at the open (60000), then the low (60001) hits the stop before the high.
    expect(parseLines(stdout)[0]).toMatchObject({
      id: 'b1',
      outcome: 'SL_HIT',
      fill: { ts: 60000, price: 100 },
      legs: [{ reason: 'SL', stopKind: 'initial', price: 95, fraction: 1, ts: 60001 }],
    });
    expect(stderr).toMatch(/1 rows read, 4 ticks applied/);
  });

  it('exits 2 with the usage when --ticks or --signals is missing', async () => {
    for (const argv of [['replay'], ['replay', '--ticks', ticks], ['replay', '--signals', signals]]) {
      const { code, stdout, stderr } = await run(argv);
      expect(code, argv.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/--ticks and --signals/);
      expect(stderr).toMatch(/usage: .*replay --ticks FILE/);
    }
  });

  it('exits 2 with the usage on an unknown option', async () => {
    const { code, stderr } = await run(['replay', '--ticks', ticks, '--signals', signals, '--bogus']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage: .*replay/);
  });

  it('exits 2 with the usage on no command or an unknown one', async () => {
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/usage:/);
    const unknown = await run(['replya']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "replya"/);
  });

  it('exits 1 and says why when a file cannot be read', async () => {
    const { code, stderr } = await run(['replay', '--ticks', join(dir, 'nope.csv'), '--signals', signals]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/replay: .*nope\.csv/);
  });
});

describe('the sample files of data/ (README "Command line")', () => {
  it('replay over the bundled IBM trades: every signal and operation accepted, each way of ending represented', async () => {
    const { code, stdout, stderr } = await run([
      'replay',
      '--ticks',
      dataFile('lean_usequity_IBM_trades_2013-10-07_11.csv.gz'),
      '--signals',
      fileURLToPath(new URL('../../data/sample_signals_IBM.jsonl', import.meta.url)),
      '--ops',
      fileURLToPath(new URL('../../data/sample_ops_IBM.jsonl', import.meta.url)),
    ]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/7 signals \(6 closed, 1 open\), 0 operations rejected/);
    const outcomes = parseLines(stdout).map((l) => (l.state === 'closed' ? l.outcome : l.state));
    expect(outcomes).toEqual(['TP_HIT', 'TP_HIT', 'SL_HIT', 'SL_HIT', 'EXPIRED', 'open', 'MANUAL_EXIT']);
  });
});
