/**
 * CopyBinaryParser splits COPY binary data into rows however the stream cuts it: the same rows
 * for every split point, NULLs as length -1, and a loud error for data that is not COPY binary,
 * rows of the wrong width, or data that stops before its end marker.
 */
import { describe, expect, it } from 'vitest';
import { CopyBinaryParser } from '../../src/storage/CopyBinaryParser.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** COPY binary data of `rows` (null = NULL), with a header extension of `extension` bytes. */
function copyData(rows: (Buffer | null)[][], extension = 0): Buffer {
  const parts: Buffer[] = [SIGNATURE];
  const int32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  parts.push(int32(0), int32(extension), Buffer.alloc(extension, 7));
  for (const row of rows) {
    parts.push(int16(row.length));
    for (const field of row)
      parts.push(field === null ? int32(-1) : Buffer.concat([int32(field.length), field]));
  }
  parts.push(int16(-1));
  return Buffer.concat(parts);
}

function parse(chunks: Buffer[], fields: number): (string | null)[][] {
  const rows: (string | null)[][] = [];
  const parser = new CopyBinaryParser(fields, (b, s, l) =>
    rows.push(Array.from(l, (len, f) => (len < 0 ? null : b.toString('utf8', s[f]!, s[f]! + len)))),
  );
  for (const chunk of chunks) parser.write(chunk);
  parser.end();
  return rows;
}

const ROWS: (string | null)[][] = [
  ['BTCUSDT', null, '', 'é✓'],
  [null, null, null, null],
  ['a', 'bb', 'ccc', 'dddd'],
];
const DATA = copyData(
  ROWS.map((r) => r.map((f) => (f === null ? null : Buffer.from(f)))),
  3,
);

describe('CopyBinaryParser', () => {
  it('gives the same rows wherever the stream is cut, once or at every byte', () => {
    expect(parse([DATA], 4)).toEqual(ROWS);
    for (let cut = 0; cut <= DATA.length; cut++) {
      expect(parse([DATA.subarray(0, cut), DATA.subarray(cut)], 4), `cut at ${cut}`).toEqual(ROWS);
    }
    expect(
      parse(
        Array.from(DATA, (byte) => Buffer.from([byte])),
        4,
      ),
    ).toEqual(ROWS);
  });

  it('rejects data that is not COPY binary, rows of another width, and data cut before its end', () => {
    expect(() => parse([Buffer.from('PGCOPY\nxx\r\n\0\0\0\0\0\0\0\0\0')], 4)).toThrow(/signature/);
    expect(() => parse([DATA], 3)).toThrow(/4 fields, expected 3/);
    expect(() => parse([DATA.subarray(0, DATA.length - 2)], 4)).toThrow(/before its end marker/);
    expect(() => parse([Buffer.concat([DATA, Buffer.from([0])])], 4)).toThrow(/after its end marker/);
  });
});
