/**
 * The CSV tick and candle readers (SPEC.md "CSV form", "Candles") on small fixtures written
 * to a temporary directory: column names and their precedence, quote carry-forward, what
 * counts as an empty cell, skipped rows and their counts, gzip, and clear errors for a
 * header that lacks a required column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tick } from '../../machines/types.ts';
import {
  newStats,
  readCandles,
  readTicks,
  SKIPPED_LINES_KEPT,
  TickFileError,
  type TickFileStats,
} from '../../src/ticks/readTicks.ts';

const dir = mkdtempSync(join(tmpdir(), 'readTicks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fixtures = 0;
/** Writes `lines` as a CSV fixture (gzip-compressed when `gz`) and returns its path. */
function fixture(lines: string[], gz = false): string {
  const text = lines.join('\n') + '\n';
  const file = join(dir, `f${++fixtures}.csv${gz ? '.gz' : ''}`);
  writeFileSync(file, gz ? gzipSync(text) : text);
  return file;
}

async function ticksOf(file: string): Promise<{ ticks: Tick[]; stats: TickFileStats }> {
  const stats = newStats();
  const ticks: Tick[] = [];
  for await (const tick of readTicks(file, stats)) ticks.push(tick);
  return { ticks, stats };
}

async function candlesOf(file: string): Promise<{ ticks: Tick[]; stats: TickFileStats }> {
  const stats = newStats();
  const ticks: Tick[] = [];
  for await (const tick of readCandles(file, stats)) ticks.push(tick);
  return { ticks, stats };
}

async function readError(read: (file: string) => AsyncGenerator<Tick>, file: string): Promise<Error> {
  try {
    for await (const _ of read(file)) void _;
  } catch (err) {
    return err as Error;
  }
  throw new Error(`reading ${file} did not fail`);
}

describe('readTicks: columns', () => {
  it('reads ts, symbol and price, ignoring other columns', async () => {
    const { ticks, stats } = await ticksOf(
      fixture(['ts,symbol,price,size,exchange', '1000,BTC,100.5,3,X', '1001,BTC,101,1,Y']),
    );
    expect(ticks).toEqual([
      { symbol: 'BTC', ts: 1000, price: 100.5 },
      { symbol: 'BTC', ts: 1001, price: 101 },
    ]);
    expect(stats).toEqual({
      rows: 2,
      ticks: 2,
      skippedBadTime: 0,
      skippedMissingValues: 0,
      skippedLines: [],
    });
  });

  it('accepts ts_ms instead of ts', async () => {
    const { ticks } = await ticksOf(fixture(['ts_ms,symbol,price', '1000,BTC,100']));
    expect(ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100 }]);
  });

  it('uses ts when both ts and ts_ms exist (the shorter name wins), whatever the column order', async () => {
    const first = await ticksOf(fixture(['ts_ms,ts,symbol,price', '5,1000,BTC,100']));
    expect(first.ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100 }]);
    const second = await ticksOf(fixture(['ts,ts_ms,symbol,price', '1000,5,BTC,100']));
    expect(second.ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100 }]);
  });

  it('matches header names case-insensitively', async () => {
    const { ticks } = await ticksOf(fixture(['TS_MS,Symbol,PRICE,Bid,ASK', '1000,btc,100,99,101']));
    expect(ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100, bid: 99, ask: 101 }]);
  });

  it('reads quotes from bid_price/ask_price, and prefers bid/ask when both exist', async () => {
    const long = await ticksOf(fixture(['ts_ms,symbol,price,bid_price,ask_price', '1000,BTC,100,99,101']));
    expect(long.ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100, bid: 99, ask: 101 }]);
    const both = await ticksOf(
      fixture(['ts,symbol,price,bid_price,bid,ask_price,ask', '1000,BTC,100,1,99,2,101']),
    );
    expect(both.ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100, bid: 99, ask: 101 }]);
  });

  it('upper-cases symbols', async () => {
    const { ticks } = await ticksOf(fixture(['ts,symbol,price', '1000,btcUsdt,100', '1001,eth,5']));
    expect(ticks.map((t) => t.symbol)).toEqual(['BTCUSDT', 'ETH']);
  });

  it('reads gzip-compressed .csv.gz files', async () => {
    const { ticks } = await ticksOf(
      fixture(['ts_ms,symbol,price,bid,ask', '1000,BTC,100,99,101', '1001,BTC,102,,'], true),
    );
    expect(ticks).toEqual([
      { symbol: 'BTC', ts: 1000, price: 100, bid: 99, ask: 101 },
      { symbol: 'BTC', ts: 1001, price: 102, bid: 99, ask: 101 },
    ]);
  });
});

describe('readTicks: quotes', () => {
  it('prices a row without price at the mid of its bid and ask (a quote update)', async () => {
    const { ticks } = await ticksOf(fixture(['ts,symbol,bid,ask', '1000,BTC,99,101', '1001,BTC,99.5,100.5']));
    expect(ticks).toEqual([
      { symbol: 'BTC', ts: 1000, price: 100, bid: 99, ask: 101 },
      { symbol: 'BTC', ts: 1001, price: 100, bid: 99.5, ask: 100.5 },
    ]);
  });

  it('carries an empty quote side forward from the same symbol, and skips rows still missing a side', async () => {
    const { ticks, stats } = await ticksOf(
      fixture([
        'ts_ms,symbol,bid_price,ask_price',
        '1000,BTC,99,', // no ask yet: skipped
        '1001,BTC,,101', // bid 99 carried: mid 100
        '1002,BTC,98,', // ask 101 carried
        '1003,ETH,,10', // ETH has no bid of its own (BTC's does not count): skipped
        '1004,ETH,9,', // ETH ask 10 carried
      ]),
    );
    expect(ticks).toEqual([
      { symbol: 'BTC', ts: 1001, price: 100, bid: 99, ask: 101 },
      { symbol: 'BTC', ts: 1002, price: 99.5, bid: 98, ask: 101 },
      { symbol: 'ETH', ts: 1004, price: 9.5, bid: 9, ask: 10 },
    ]);
    expect(stats).toEqual({
      rows: 5,
      ticks: 3,
      skippedBadTime: 0,
      skippedMissingValues: 2,
      skippedLines: [
        { line: 2, reason: 'no price, and no ask yet for BTC to price it at the mid' },
        { line: 5, reason: 'no price, and no bid yet for ETH to price it at the mid' },
      ],
    });
  });

  it('a trade row keeps the last quotes of its symbol', async () => {
    const { ticks } = await ticksOf(
      fixture(['ts,symbol,price,bid,ask', '1000,BTC,,99,101', '1001,BTC,100.2,,']),
    );
    expect(ticks[1]).toEqual({ symbol: 'BTC', ts: 1001, price: 100.2, bid: 99, ask: 101 });
  });

  it('a trade-only file gives ticks without quotes', async () => {
    const { ticks } = await ticksOf(fixture(['ts,symbol,price,bid,ask', '1000,BTC,100,,']));
    expect(ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100 }]);
    expect(Object.keys(ticks[0]!)).toEqual(['symbol', 'ts', 'price']);
  });
});

describe('readTicks: empty cells and skipped rows', () => {
  for (const cell of ['0', '-1', 'NaN', '', 'abc', 'Infinity', '-0']) {
    it(`a price cell ${JSON.stringify(cell)} counts as empty (the row falls back to the mid)`, async () => {
      const { ticks, stats } = await ticksOf(fixture(['ts,symbol,price,bid,ask', `1000,BTC,${cell},99,101`]));
      expect(ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100, bid: 99, ask: 101 }]);
      expect(stats.skippedMissingValues).toBe(0);
    });

    it(`a bid cell ${JSON.stringify(cell)} counts as empty (the last bid is carried)`, async () => {
      const { ticks } = await ticksOf(
        fixture(['ts,symbol,price,bid,ask', '1000,BTC,100,98,101', `1001,BTC,100,${cell},102`]),
      );
      expect(ticks[1]).toEqual({ symbol: 'BTC', ts: 1001, price: 100, bid: 98, ask: 102 });
    });
  }

  it('skips and counts a row whose price and quotes are all empty', async () => {
    const { ticks, stats } = await ticksOf(
      fixture(['ts,symbol,price', '1000,BTC,', '1001,BTC,0', '1002,BTC,5']),
    );
    expect(ticks).toEqual([{ symbol: 'BTC', ts: 1002, price: 5 }]);
    expect(stats).toEqual({
      rows: 3,
      ticks: 1,
      skippedBadTime: 0,
      skippedMissingValues: 2,
      skippedLines: [
        { line: 2, reason: 'no price, and no bid or ask yet for BTC to price it at the mid' },
        {
          line: 3,
          reason: 'price "0" is not a number above 0, and no bid or ask yet for BTC to price it at the mid',
        },
      ],
    });
  });

  for (const ts of ['1000.5', 'abc', 'NaN', '1e400']) {
    it(`skips and counts a row whose time ${JSON.stringify(ts)} is not an integer`, async () => {
      const { ticks, stats } = await ticksOf(fixture(['ts,symbol,price', `${ts},BTC,100`, '2000,BTC,101']));
      expect(ticks).toEqual([{ symbol: 'BTC', ts: 2000, price: 101 }]);
      expect(stats).toEqual({
        rows: 2,
        ticks: 1,
        skippedBadTime: 1,
        skippedMissingValues: 0,
        skippedLines: [{ line: 2, reason: `time ${JSON.stringify(ts)} is not an integer epoch-ms time` }],
      });
    });
  }

  it('skips and counts a row whose time cell is empty (an empty cell is not an integer, not epoch 0)', async () => {
    const { ticks, stats } = await ticksOf(fixture(['ts,symbol,price', ',BTC,100', '2000,BTC,101']));
    expect(ticks, 'no tick at ts 0 from an empty time cell').toEqual([
      { symbol: 'BTC', ts: 2000, price: 101 },
    ]);
    expect(stats.skippedBadTime).toBe(1);
  });

  it('skips and counts a row later than 8,640,000,000,000,000 ms, the latest time JS and PostgreSQL hold', async () => {
    const { ticks, stats } = await ticksOf(
      fixture([
        'ts,symbol,price',
        '1000,BTC,100',
        '9000000000000000,BTC,1',
        '8640000000000000,ETH,2',
        '2000,BTC,101',
      ]),
    );
    expect(ticks, 'the tick at 9e15 must not be applied (it would freeze BTC)').toEqual([
      { symbol: 'BTC', ts: 1000, price: 100 },
      { symbol: 'ETH', ts: 8_640_000_000_000_000, price: 2 },
      { symbol: 'BTC', ts: 2000, price: 101 },
    ]);
    expect(stats.skippedBadTime).toBe(1);
    expect(stats.skippedLines).toEqual([
      { line: 3, reason: 'time 9000000000000000 is beyond 8640000000000000, the latest time allowed' },
    ]);
  });

  it(`notes the line and reason of the first ${SKIPPED_LINES_KEPT} skipped rows, counting blank lines, and counts them all`, async () => {
    const rows = Array.from({ length: 8 }, (_, i) => `2024-01-0${i + 1}T00:00:00Z,BTC,100`);
    const { ticks, stats } = await ticksOf(fixture(['ts,symbol,price', '', ...rows]));
    expect(ticks).toEqual([]);
    expect(stats.skippedBadTime).toBe(8);
    expect(stats.skippedLines.map((s) => s.line)).toEqual([3, 4, 5, 6, 7]);
    expect(stats.skippedLines[0]!.reason).toBe('time "2024-01-01T00:00:00Z" is not an integer epoch-ms time');
  });

  it('skips and notes a row without a symbol', async () => {
    const { ticks, stats } = await ticksOf(fixture(['ts,symbol,price', '1000,,100', '1001,BTC,100']));
    expect(ticks).toHaveLength(1);
    expect(stats.skippedLines).toEqual([{ line: 2, reason: 'symbol is empty' }]);
  });

  it('ignores a byte-order mark before the header', async () => {
    const { ticks } = await ticksOf(fixture(['\uFEFFts_ms,symbol,price', '1000,BTC,100']));
    expect(ticks).toEqual([{ symbol: 'BTC', ts: 1000, price: 100 }]);
  });

  it('ignores blank lines', async () => {
    const { ticks } = await ticksOf(fixture(['ts,symbol,price', '', '1000,BTC,100', '', '1001,BTC,101']));
    expect(ticks.map((t) => t.ts)).toEqual([1000, 1001]);
  });

  it('keeps file order for equal timestamps and does not reorder late rows', async () => {
    const { ticks } = await ticksOf(fixture(['ts,symbol,price', '1000,BTC,1', '1000,BTC,2', '999,BTC,3']));
    expect(ticks.map((t) => [t.ts, t.price])).toEqual([
      [1000, 1],
      [1000, 2],
      [999, 3],
    ]);
  });
});

describe('readTicks: header errors', () => {
  it('refuses a stray quote that would swallow the rows up to the next quote (found by fuzzing)', async () => {
    const ticks = fixture(['ts,symbol,price', '1000,BTC,"', '1001,BTC,100', '1002,BTC,101', '"']);
    const candles = fixture(['ts,symbol,open,high,low,close', '1000,BTC,"', '1001,BTC,1,2,1,2', '"']);
    for (const [read, file] of [
      [readTicks, ticks],
      [readCandles, candles],
    ] as const) {
      const err = await readError(read, file);
      expect(err).toBeInstanceOf(TickFileError);
      expect(err.message).toBe(
        `${file}: a quoted cell starting at line 2 runs over several lines (a stray quote?); tick files have none`,
      );
    }
  });

  it('fails clearly without a time column', async () => {
    const err = await readError(readTicks, fixture(['time,symbol,price', '1000,BTC,100']));
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message).toMatch(/ts \(or ts_ms\)/);
  });

  it('fails clearly without a symbol column', async () => {
    const err = await readError(readTicks, fixture(['ts,ticker,price', '1000,BTC,100']));
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message).toMatch(/symbol/);
  });

  it('fails clearly with none of price, bid, ask', async () => {
    const err = await readError(readTicks, fixture(['ts,symbol,last', '1000,BTC,100']));
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message).toMatch(/price/);
  });

  it('fails clearly on an empty file', async () => {
    const file = join(dir, 'empty.csv');
    writeFileSync(file, '');
    const err = await readError(readTicks, file);
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message).toMatch(/empty/);
  });

  it('fails with one error naming the file on a truncated .csv.gz (no unhandled error event)', async () => {
    const whole = gzipSync(
      ['ts,symbol,price', ...Array.from({ length: 5000 }, (_, i) => `${i},BTC,${100 + (i % 7)}`)].join('\n'),
    );
    const file = join(dir, 'truncated.csv.gz');
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const err = await readError(readTicks, file);
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message).toBe(
      `${file}: cannot decompress (unexpected end of file): a truncated .gz file, or not gzip at all`,
    );
  });

  it('fails with one error naming the file on a plain CSV file named .gz', async () => {
    const file = join(dir, 'plain.csv.gz');
    writeFileSync(file, 'ts,symbol,price\n1000,BTC,100\n');
    for (const read of [readTicks, readCandles]) {
      const err = await readError(read, file);
      expect(err).toBeInstanceOf(TickFileError);
      expect(err.message).toMatch(/plain\.csv\.gz: cannot decompress \(incorrect header check\)/);
    }
  });

  it('fails with one error naming the file on malformed CSV', async () => {
    const err = await readError(readTicks, fixture(['ts,symbol,price', '1000,"BTC,100', '1001,BTC,100']));
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message.startsWith(join(dir, ''))).toBe(true);
  });

  it('fails on a file that does not exist', async () => {
    const err = await readError(readTicks, join(dir, 'missing.csv'));
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('readCandles', () => {
  it('expands a bullish bar (close >= open) to open, low, high, close at ts..ts+3', async () => {
    const { ticks, stats } = await candlesOf(
      fixture(['ts_ms,symbol,open,high,low,close,volume', '60000,spy,10,12,9,11,100']),
    );
    expect(ticks).toEqual([
      { symbol: 'SPY', ts: 60000, price: 10 },
      { symbol: 'SPY', ts: 60001, price: 9 },
      { symbol: 'SPY', ts: 60002, price: 12 },
      { symbol: 'SPY', ts: 60003, price: 11 },
    ]);
    expect(stats).toEqual({
      rows: 1,
      ticks: 4,
      skippedBadTime: 0,
      skippedMissingValues: 0,
      skippedLines: [],
    });
  });

  it('expands a bearish bar to open, high, low, close; a doji (close = open) counts as bullish', async () => {
    const { ticks } = await candlesOf(
      fixture(['ts,symbol,open,high,low,close', '0,X,11,12,9,10', '60000,X,10,12,9,10']),
    );
    expect(ticks.map((t) => [t.ts, t.price])).toEqual([
      [0, 11],
      [1, 12],
      [2, 9],
      [3, 10],
      [60000, 10],
      [60001, 9],
      [60002, 12],
      [60003, 10],
    ]);
    expect(ticks.every((t) => t.bid === undefined && t.ask === undefined)).toBe(true);
  });

  it('reads .csv.gz, case-insensitive headers, ts over ts_ms', async () => {
    const { ticks } = await candlesOf(
      fixture(['TS_MS,TS,Symbol,Open,High,Low,Close', '5,1000,ibm,10,12,9,11'], true),
    );
    expect(ticks.map((t) => [t.symbol, t.ts])).toEqual([
      ['IBM', 1000],
      ['IBM', 1001],
      ['IBM', 1002],
      ['IBM', 1003],
    ]);
  });

  it('skips and counts bars with a bad time or a missing/non-positive value', async () => {
    const { ticks, stats } = await candlesOf(
      fixture([
        'ts,symbol,open,high,low,close',
        '1.5,X,10,12,9,11',
        '1000,X,10,12,0,11',
        '2000,X,10,,9,11',
        '3000,X,10,12,9,11',
      ]),
    );
    expect(ticks.map((t) => t.ts)).toEqual([3000, 3001, 3002, 3003]);
    expect(stats).toEqual({
      rows: 4,
      ticks: 4,
      skippedBadTime: 1,
      skippedMissingValues: 2,
      skippedLines: [
        { line: 2, reason: 'time "1.5" is not an integer epoch-ms time' },
        { line: 3, reason: 'low not a number above 0' },
        { line: 4, reason: 'high not a number above 0' },
      ],
    });
  });

  it('skips and counts a bar whose time cell is empty (not a bar at epoch 0)', async () => {
    const { ticks, stats } = await candlesOf(
      fixture(['ts,symbol,open,high,low,close', ',X,10,12,9,11', '3000,X,10,12,9,11']),
    );
    expect(ticks.map((t) => t.ts)).toEqual([3000, 3001, 3002, 3003]);
    expect(stats.skippedBadTime).toBe(1);
  });

  it('fails clearly when a candle column is missing, naming it', async () => {
    const err = await readError(readCandles, fixture(['ts,symbol,open,high,close', '1000,X,10,12,11']));
    expect(err).toBeInstanceOf(TickFileError);
    expect(err.message).toMatch(/low/);
    const noTime = await readError(
      readCandles,
      fixture(['time,symbol,open,high,low,close', '1000,X,10,12,9,11']),
    );
    expect(noTime.message).toMatch(/ts \(or ts_ms\)/);
  });
});
