/**
 * `outcome-tracker replay` through `main(argv, io)` with in-memory streams: one JSON line per
 * input signal in input order (rejected ones in place, with their reasons), rejections and
 * counts on stderr, `--out`, `--ops`, `--candles`, and usage errors with exit code 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { OutcomeLine, RejectedLine } from '../../machines/types.ts';
import { createProgress } from '../../src/cli/createProgress.ts';
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

describe('replay: inputs that used to crash or mislead', () => {
  const noStack = (stderr: string): void => expect(stderr, 'no stack trace').not.toMatch(/\n\s+at /);

  it('quotes a rejected operation nested 50,000 deep, or 200 KB long, in one short line (found by fuzzing)', async () => {
    const deep = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
    const opsFile = write('deep-ops.jsonl', [
      `{"op":"cancel","id":"x","ts":1,"extra":${deep}}`,
      JSON.stringify({ op: 'cancel', id: 'y', ts: 1, note: 'n'.repeat(200_000) }),
    ]);
    const { code, stderr } = await run(['replay', '--ticks', ticks, '--signals', signals, '--ops', opsFile]);
    noStack(stderr);
    expect(code, stderr).toBe(0);
    const rejected = stderr.split('\n').filter((l) => l.startsWith('rejected operation '));
    expect(rejected).toHaveLength(2);
    for (const line of rejected) expect(line.length).toBeLessThan(600);
    expect(rejected[0]).toContain('extra: unknown field');
    expect(rejected[1]).toMatch(/… \(\d+ characters\)/);
  });

  it('exits 2 with one line naming the file on a truncated .csv.gz', async () => {
    const whole = gzipSync(
      ['ts_ms,symbol,price', ...Array.from({ length: 5000 }, (_, i) => `${i},X,100`)].join('\n'),
    );
    const file = join(dir, 'truncated.csv.gz');
    writeFileSync(file, whole.subarray(0, whole.length >> 1));
    const { code, stdout, stderr } = await run(['replay', '--ticks', file, '--signals', signals]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `replay: ${file}: cannot decompress (unexpected end of file): a truncated .gz file, or not gzip at all\n`,
    );
  });

  it('exits 2 with one line naming the file on a plain CSV file named .gz', async () => {
    const file = join(dir, 'plain.csv.gz');
    writeFileSync(file, readFileSync(ticks));
    const { code, stderr } = await run(['replay', '--ticks', file, '--signals', signals]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^replay: .*plain\.csv\.gz: cannot decompress \(incorrect header check\)/);
    expect(stderr.split('\n')).toHaveLength(2);
  });

  it('fails on an unwritable --out before reading any tick', async () => {
    // The tick file does not exist either: the --out error coming first shows it is checked first.
    const out = join(dir, 'no-such-dir', 'out.jsonl');
    const { code, stdout, stderr } = await run([
      'replay',
      '--ticks',
      join(dir, 'never-read.csv'),
      '--signals',
      signals,
      '--out',
      out,
    ]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^replay: cannot write --out ${out.replace(/[.]/g, '\\.')}: ENOENT`));
    expect(stderr.split('\n')).toHaveLength(2);
    noStack(stderr);
  });

  it('exits 2 naming the first skipped line when no tick row is usable (ISO times), writing no outcomes', async () => {
    const iso = write('iso.csv', [
      'ts,symbol,price',
      '2024-01-01T00:00:00Z,X,100',
      '2024-01-01T00:00:01Z,X,101',
    ]);
    const out = join(dir, 'iso-out.jsonl');
    const { code, stdout, stderr } = await run([
      'replay',
      '--ticks',
      iso,
      '--signals',
      signals,
      '--out',
      out,
    ]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(readFileSync(out, 'utf8'), 'no outcome line: they would all be pending').toBe('');
    expect(stderr).toContain(
      `${iso} line 2: skipped: time "2024-01-01T00:00:00Z" is not an integer epoch-ms time\n`,
    );
    expect(stderr).toMatch(
      /replay: .*iso\.csv: none of its 2 rows is usable \(line 2: time "2024-01-01T00:00:00Z" is not an integer epoch-ms time\)\n$/,
    );
  });

  it('exits 2 on a tick file with a header and no rows', async () => {
    const empty = write('header-only.csv', ['ts,symbol,price']);
    const { code, stderr } = await run(['replay', '--ticks', empty, '--signals', signals]);
    expect(code).toBe(2);
    expect(stderr).toBe(`replay: ${empty}: no tick rows after the header\n`);
  });

  it('reports the line and reason of skipped rows, and still replays the usable ones', async () => {
    const mixed = write('mixed.csv', [
      'ts_ms,symbol,price',
      '1000,X,100',
      'soon,X,101',
      '2000,,102',
      '3000,X,110',
    ]);
    const { code, stdout, stderr } = await run(['replay', '--ticks', mixed, '--signals', signals]);
    expect(code).toBe(0);
    expect(stderr).toContain(`${mixed} line 3: skipped: time "soon" is not an integer epoch-ms time\n`);
    expect(stderr).toContain(`${mixed} line 4: skipped: symbol is empty\n`);
    expect(parseLines(stdout)[0]).toMatchObject({ id: 's1', state: 'closed', outcome: 'TP_HIT' });
  });

  it('skips a tick later than 8.64e15 ms instead of letting it freeze the symbol', async () => {
    const far = write('far.csv', [
      'ts_ms,symbol,price',
      '1000,X,100',
      '9000000000000000,X,100',
      '3000,X,110',
    ]);
    const { code, stdout, stderr } = await run(['replay', '--ticks', far, '--signals', signals]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/3 rows read, 2 ticks applied, 0 late, 1 rows skipped for a bad time/);
    expect(parseLines(stdout)[0], 'the tick at 3000 still closes s1').toMatchObject({
      id: 's1',
      outcome: 'TP_HIT',
    });
  });

  it('ignores a byte-order mark at the start of a JSON-lines file', async () => {
    const file = join(dir, 'bom.jsonl');
    writeFileSync(file, '\uFEFF' + signal({ id: 'b1' }) + '\n' + signal({ id: 'b2' }) + '\n');
    const { code, stdout } = await run(['replay', '--ticks', ticks, '--signals', file]);
    expect(code).toBe(0);
    expect(parseLines(stdout).map((l) => [l.id, l.state])).toEqual([
      ['b1', 'open'],
      ['b2', 'open'],
    ]);
  });

  it('shows no progress when stderr is not a terminal', async () => {
    const { stderr } = await run([
      'replay',
      '--ticks',
      dataFile('lean_usequity_IBM_trades_2013-10-07_11.csv.gz'),
      '--signals',
      signals,
    ]);
    expect(stderr).not.toContain('\r');
    expect(stderr).not.toContain('ticks/s');
  });
});

describe('progress on a terminal', () => {
  it('redraws rows and ticks/s in place at most once a second, and clears the line when done', () => {
    const sink = Object.assign(new Sink(), { isTTY: true });
    let clock = 0;
    const progress = createProgress(sink, 'replay', { now: () => clock });
    for (let i = 1; i <= 4096; i++) {
      clock = i; // 4.096 s over 4096 ticks: 1000 ticks/s
      progress.update(i + 10, i);
    }
    for (let i = 0; i < 10_000; i++) progress.update(5000, 4096); // the clock stands still: no frame
    progress.done();
    const frames = sink.text.split('\r\x1b[K').filter((f) => f !== '');
    expect(frames).toEqual([
      'replay: 1,034 rows, 1,000 ticks/s',
      'replay: 2,058 rows, 1,000 ticks/s',
      'replay: 3,082 rows, 1,000 ticks/s',
      'replay: 4,106 rows, 1,000 ticks/s',
    ]);
    expect(sink.text.endsWith('\r\x1b[K')).toBe(true);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const sink = new Sink();
    const progress = createProgress(sink, 'replay', { now: () => 1e9 });
    for (let i = 0; i < 10_000; i++) progress.update(i, i);
    progress.done();
    expect(sink.text).toBe('');
  });
});

describe('every command: --help, --version, one-line errors', () => {
  const names = [
    'replay',
    'feed',
    'migrate',
    'export',
    'metrics',
    'analyze',
    'verify-audit',
    'regulatory-report',
  ];
  it.each(names)('%s --help prints its usage and the exit codes on stdout, exit 0', async (name) => {
    const { code, stdout, stderr } = await run([name, '--help']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^usage: outcome-tracker ${name}`));
    expect(stdout).toMatch(/exit codes: 0 ok, 1 failure .*, 2 bad arguments, bad settings or unusable input/);
  });

  it.each([...names.map((n) => [n, '--version']), ['--version'], ['-V']])(
    '%s %s prints the version',
    async (...argv) => {
      const { code, stdout } = await run(argv.filter((a) => a !== undefined));
      expect(code).toBe(0);
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      expect(stdout).toBe(`outcome-tracker ${pkg.version}\n`);
    },
  );

  it('a usage error is one line on stderr: the problem, then the usage', async () => {
    const { code, stderr } = await run(['replay', '--ticks', ticks]);
    expect(code).toBe(2);
    expect(stderr.split('\n')).toEqual([
      expect.stringMatching(/^replay: needs --ticks and --signals \(usage: outcome-tracker replay --ticks/),
      '',
    ]);
  });
});

describe('feed and export with their services down', () => {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  afterEach(() => vi.unstubAllEnvs());

  it('feed fails within seconds naming Redis and its host, never the password', async () => {
    vi.stubEnv('REDIS_URL', 'redis://user:s3cret@127.0.0.1:1');
    const started = Date.now();
    const { code, stdout, stderr } = await run(['feed', '--ticks', ticks, '--max']);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'feed: cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n',
    );
  });

  it('export names each unreachable service and its host, never the password', async () => {
    vi.stubEnv('REDIS_URL', 'redis://:s3cret@127.0.0.1:1');
    vi.stubEnv('DATABASE_URL', 'postgresql://me:s3cret@127.0.0.1:1/outcomes');
    const { code, stderr } = await run(['export']);
    expect(code).toBe(1);
    expect(stderr).toBe(
      'export: cannot reach Redis at redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1; ' +
        'cannot reach PostgreSQL at postgresql://127.0.0.1:1/outcomes: connect ECONNREFUSED 127.0.0.1:1\n',
    );
    expect(stderr).not.toContain('s3cret');
  });
});
