/**
 * Fuzzing the files of the command line (docs/FUZZING.md): tick and candle CSV files
 * (readTicks, readCandles), JSON-lines signal and operation files (readJsonLines) through
 * `outcome-tracker replay` as a user runs it, and `metrics --input`. Whatever the files hold:
 * the command ends with exit 0 or 2 (documented), a failure is one line naming the problem,
 * no stack trace, and a valid signal among junk lines, on valid rows among junk rows, ends as
 * it ends on the clean files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { MAX_TICK_TIME, newStats, readTicks } from '../../src/ticks/readTicks.ts';
import { captureIo } from '../support/captureIo.ts';
import {
  T0,
  badJsonText,
  badOpPayload,
  badSignalPayload,
  fuzzParams,
  nastyString,
  prototypeSnapshot,
  validSignal,
} from '../support/fuzzInputs.ts';

const dir = mkdtempSync(join(tmpdir(), 'ot-fuzz-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(name: string, content: string | Buffer): string {
  const path = join(dir, `${fileNo++}-${name}`);
  writeFileSync(path, content);
  return path;
}

/** A stack frame line, as Node prints them: must never reach a user. */
const STACK_FRAME = /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m;

/**
 * A failed command's stderr: notes of skipped rows (`FILE line N: skipped: …`, `FILE: N more rows
 * skipped`) and then exactly one line with the error, starting with the command's name.
 */
function expectOneErrorLine(stderr: string, command: string): void {
  const lines = stderr.trim().split('\n');
  const last = lines.pop()!;
  expect(last, stderr).toMatch(new RegExp(`^${command}: `));
  for (const l of lines) expect(l, stderr).toMatch(/ line \d+: skipped: |: \d+ more rows skipped$/);
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo();
  const code = await main(argv, io.io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** A CSV cell that bites: not numbers, non-finite, zero and negative, huge, quotes, NUL, surrogates. */
const nastyCell: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    'NaN',
    'Infinity',
    '-Infinity',
    '0',
    '-0',
    '-1',
    '-100.5',
    '1e400',
    '0x10',
    '1e3',
    '9007199254740993',
    String(MAX_TICK_TIME + 1),
    String(T0 + 10 * 365 * 86_400_000),
    '"',
    '"unclosed',
    'a"b',
    '\u0000',
    '\ud800',
    ' ',
    '__proto__',
  ),
  nastyString.map((s) => s.slice(0, 2000)),
  fc.double().map(String),
  fc.integer().map(String),
);

/** A CSV line as text (cells joined raw, so that quotes and commas inside them bite). */
const junkRow = fc.array(nastyCell, { minLength: 0, maxLength: 6 }).map((cells) => cells.join(','));

const HEADERS = [
  'ts,symbol,price',
  'ts_ms,symbol,price,bid,ask',
  'TS,Symbol,Bid,Ask',
  'ts,symbol,price,ts,price',
  'symbol,price',
  'ts,price',
  '',
  '\uFEFFts,symbol,price',
];

/** Clean rows of FUZ that move the valid signal through its levels. */
const cleanRows = [100, 101, 102.5, 104.5, 99, 96.5].map((p, i) => `${T0 + 10 + i},FUZ,${p}`);

describe('fuzz: tick CSV files (readTicks)', () => {
  it('yields only usable ticks from any file, or fails with one TickFileError naming the file', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...HEADERS), junkRow),
        fc.array(junkRow, { maxLength: 30 }),
        async (header, rows) => {
          const path = file('ticks.csv', [header, ...rows].join('\n'));
          const stats = newStats();
          try {
            for await (const t of readTicks(path, stats)) {
              expect(t.symbol).not.toBe('');
              expect(Number.isInteger(t.ts) && t.ts >= 0 && t.ts <= MAX_TICK_TIME).toBe(true);
              expect(Number.isFinite(t.price) && t.price > 0, `price ${t.price}`).toBe(true);
            }
            expect(stats.ticks + stats.skippedBadTime + stats.skippedMissingValues).toBe(stats.rows);
          } catch (err) {
            expect((err as Error).name, String(err)).toBe('TickFileError');
            expect((err as Error).message).toContain(path);
          }
        },
      ),
      fuzzParams(300),
    );
  });
});

describe('fuzz: outcome-tracker replay over bad files', () => {
  it('exits 0 or 2 with one line and no stack trace, and the valid signal ends as on clean files', async () => {
    const good = validSignal('good', 'FUZ', 'long', 100, T0);
    const cleanTicks = file('clean.csv', ['ts,symbol,price', ...cleanRows].join('\n'));
    const cleanSignals = file('clean.jsonl', JSON.stringify(good) + '\n');
    const clean = await run(['replay', '--ticks', cleanTicks, '--signals', cleanSignals]);
    expect(clean.code, clean.stderr).toBe(0);
    const expected = JSON.parse(clean.stdout.trim()) as unknown;
    const prototypes = prototypeSnapshot();

    // Junk rows never carry a usable FUZ tick: FUZ rows among them have a bad time or price.
    const junkTickRow = fc.oneof(
      junkRow.filter((r) => !/(^|,)\s*fuz\s*(,|$)/i.test(r)),
      fc
        .tuple(
          fc.constantFrom('', 'NaN', '-5', 'soon', '1.5', '1e400'),
          fc.constantFrom('', '0', '-1', 'NaN', 'x'),
        )
        .map(([ts, p]) => `${ts},FUZ,${p}`),
      fc.constantFrom('0,FUZ,', `${T0 + 12},FUZ,-3`, `${T0 + 13},FUZ,0`, `${T0 + 14},FUZ,Infinity`),
    );
    const jsonLine = fc.oneof(
      badSignalPayload.map((p) => {
        try {
          return JSON.stringify(p) ?? 'undefined';
        } catch {
          return '[[[[';
        }
      }),
      badJsonText.map((t) => t.replace(/[\r\n]/g, ' ')),
    );
    const opLine = fc.oneof(
      badOpPayload.map((p) => {
        try {
          return JSON.stringify(p) ?? 'undefined';
        } catch {
          return '[[[[';
        }
      }),
      badJsonText.map((t) => t.replace(/[\r\n]/g, ' ')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(junkTickRow, { maxLength: 20 }),
        fc.array(jsonLine, { maxLength: 6 }),
        fc.array(opLine, { maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        async (junkRows, junkLines, opLines, at, gzip) => {
          const rows = [...cleanRows];
          for (const [i, r] of junkRows.entries()) rows.splice((at + i * 7) % (rows.length + 1), 0, r);
          const csv = ['ts,symbol,price', ...rows].join('\n');
          const ticks = gzip ? file('t.csv.gz', gzipSync(csv)) : file('t.csv', csv);
          const k = at % (junkLines.length + 1);
          const lines = [...junkLines.slice(0, k), JSON.stringify(good), ...junkLines.slice(k)];
          const signals = file('s.jsonl', lines.join('\n'));
          const ops = file('o.jsonl', opLines.join('\n'));
          const r = await run(['replay', '--ticks', ticks, '--signals', signals, '--ops', ops]);
          expect(r.stderr).not.toMatch(STACK_FRAME);
          if (r.code === 2 && /Quote|quote/.test(r.stderr)) {
            // A stray quote makes the file bad CSV (SPEC.md "CSV form"): refused as a whole, in one line.
            expectOneErrorLine(r.stderr, 'replay');
            expect(r.stdout).toBe('');
            return;
          }
          expect(r.code, r.stderr).toBe(0);
          const out = r.stdout.trim().split('\n');
          const nonBlank = lines.filter((l, i) => (i === 0 ? l.replace(/^\uFEFF/, '') : l).trim() !== '');
          expect(out).toHaveLength(nonBlank.length);
          const goodIndex = nonBlank.indexOf(JSON.stringify(good));
          expect(JSON.parse(out[goodIndex]!)).toEqual(expected);
          expect(prototypeSnapshot()).toEqual(prototypes);
        },
      ),
      fuzzParams(150),
    );
  });

  it('answers a file that is no tick file at all with exit 2 and one line', async () => {
    const signals = file('one.jsonl', JSON.stringify(validSignal('x', 'FUZ', 'long', 100, T0)));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((b) => ({ name: 'bin.csv', content: Buffer.from(b) })),
          fc.uint8Array({ maxLength: 400 }).map((b) => ({ name: 'bin.csv.gz', content: Buffer.from(b) })),
          fc
            .constantFrom('', 'ts,symbol,price\n', 'symbol,price\nFUZ,1\n', 'ts,symbol,price\n0,,1\n-1,X,1\n')
            .map((t) => ({ name: 'text.csv', content: Buffer.from(t) })),
          fc.constant({
            name: 'trunc.csv.gz',
            content: gzipSync('ts,symbol,price\n1,A,1\n').subarray(0, 12),
          }),
        ),
        fc.boolean(),
        async ({ name, content }, candles) => {
          const ticks = file(name, content);
          const r = await run([
            'replay',
            '--ticks',
            ticks,
            '--signals',
            signals,
            ...(candles ? ['--candles'] : []),
          ]);
          expect(r.stderr).not.toMatch(STACK_FRAME);
          expect([0, 2], r.stderr).toContain(r.code);
          if (r.code === 2) {
            expectOneErrorLine(r.stderr, 'replay');
            expect(r.stdout).toBe('');
          }
        },
      ),
      fuzzParams(150),
    );
  });
});

describe('fuzz: outcome-tracker metrics --input', () => {
  it('exits 0 or 2 on any input, problems as "metrics:" lines, never a stack trace', async () => {
    const input = fc.oneof(
      badJsonText,
      fc
        .record({
          returns: fc.oneof(fc.array(fc.oneof(fc.double(), nastyString), { maxLength: 30 }), nastyString),
          annualization: fc.oneof(fc.double(), nastyString),
          cutoff: fc.double(),
        })
        .map((o) => JSON.stringify(o)),
      fc
        .array(
          fc.record({ state: fc.oneof(nastyString, fc.constantFrom('closed', 'rejected')), r: fc.double() }),
          {
            maxLength: 5,
          },
        )
        .map((lines) => lines.map((l) => JSON.stringify(l)).join('\n')),
    );
    await fc.assert(
      fc.asyncProperty(input, async (text) => {
        const r = await run(['metrics', '--input', file('m.json', text)]);
        expect(r.stderr).not.toMatch(STACK_FRAME);
        expect([0, 2], r.stderr).toContain(r.code);
        if (r.code === 2) {
          expect(r.stdout).toBe('');
          for (const line of r.stderr.trim().split('\n')) expect(line).toMatch(/^metrics: /);
        }
      }),
      fuzzParams(200),
    );
  });
});
