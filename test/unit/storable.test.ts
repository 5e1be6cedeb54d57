import { describe, expect, it } from 'vitest';
import { redactSecret } from '../../src/config.ts';
import { abbreviate, checkStorable, MAX_NESTING, storableJson } from '../../src/validation/checkStorable.ts';
import { checkLiveTime, screenPayload } from '../../src/validation/screenPayload.ts';

const NUL = String.fromCharCode(0);

/** An object nested `depth` levels deep, built without recursion. */
function nested(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let at = root;
  for (let i = 0; i < depth; i++) {
    const next: Record<string, unknown> = {};
    at.a = next;
    at = next;
  }
  return root;
}

describe('checkStorable: what PostgreSQL cannot store, named by field', () => {
  it('finds NUL characters and unpaired surrogates in values and field names, anywhere', () => {
    const problems = checkStorable({
      id: `a${NUL}b`,
      symbol: 'X\uD800',
      meta: { list: ['ok', `x${NUL}`], [`k${NUL}`]: 1, pair: '\uD83D\uDE00' },
    });
    expect(problems).toEqual([
      'id: contains a NUL character (U+0000), which PostgreSQL cannot store',
      'symbol: contains an unpaired UTF-16 surrogate (not valid Unicode)',
      'meta.list[1]: contains a NUL character (U+0000), which PostgreSQL cannot store',
      `meta.${JSON.stringify(`k${NUL}`)}: the field name contains a NUL character (U+0000), which PostgreSQL cannot store`,
    ]);
  });

  it('measures nesting 100,000 deep without recursing, and names where it goes too deep', () => {
    const problems = checkStorable({ id: 'x', meta: nested(100_000) });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^meta(\\.a)+: nested more than ${MAX_NESTING} levels deep$`));
  });

  it('accepts ordinary payloads, emoji included', () => {
    expect(checkStorable({ id: 'sig-1', meta: { note: 'ok 😀', n: [1, 2, { deep: true }] } })).toEqual([]);
  });

  it('lists at most ten problems and counts the rest', () => {
    const problems = checkStorable({ meta: Array.from({ length: 25 }, () => NUL) });
    expect(problems).toHaveLength(11);
    expect(problems[10]).toBe('… and 15 more of the same kinds');
  });
});

describe('storableJson: a rejected payload in a form jsonb always takes', () => {
  it('writes NUL and lone surrogates out as text, keeps everything else', () => {
    expect(storableJson({ id: `a${NUL}b`, s: 'X\uD800', ok: 'é😀', n: 1 }, 1e6)).toEqual({
      id: 'a\\u0000b',
      s: 'X\\ud800',
      ok: 'é😀',
      n: 1,
    });
  });

  it('cuts nesting off with a note, and keeps __proto__ a plain key', () => {
    const stored = storableJson({ meta: nested(100_000) }, 1e9) as Record<string, unknown>;
    const text = JSON.stringify(stored);
    expect(text).toContain(`[nested more than ${MAX_NESTING} levels deep: cut off]`);
    const proto = storableJson(JSON.parse('{"__proto__": {"x": 1}}'), 1e6);
    expect(JSON.stringify(proto)).toBe('{"__proto__":{"x":1}}');
  });

  it('keeps a payload over the size limit as its size and first 4 KiB', () => {
    const stored = storableJson({ meta: 'x'.repeat(100_000) }, 65_536) as {
      truncated: boolean;
      bytes: number;
      head: string;
    };
    expect(stored.truncated).toBe(true);
    expect(stored.bytes).toBe(JSON.stringify({ meta: 'x'.repeat(100_000) }).length);
    expect(stored.head).toHaveLength(4096);
  });

  it('abbreviates a long id, saying how long it was', () => {
    expect(abbreviate('x'.repeat(1_000_000), 100)).toBe(`${'x'.repeat(100)}… (1000000 characters)`);
    expect(abbreviate('short')).toBe('short');
  });
});

describe('live intake guards (replay applies none of them)', () => {
  const guards = { maxPayloadBytes: 1024, minEpochMs: 946_684_800_000, maxClockSkewMs: 300_000 };
  const now = Date.UTC(2026, 11, 2);

  it('refuses a payload over MAX_PAYLOAD_BYTES, naming its size', () => {
    expect(screenPayload({ meta: 'x'.repeat(2000) }, guards)).toEqual([
      {
        code: 'PAYLOAD_TOO_LARGE',
        message: 'payload: 2011 bytes, over the limit of 1024 (MAX_PAYLOAD_BYTES)',
      },
    ]);
    expect(screenPayload({ meta: 'x' }, guards)).toEqual([]);
  });

  it('names a time sent in seconds', () => {
    expect(checkLiveTime('createdAt', 1_723_161_301, guards, now)).toEqual({
      code: 'TIME_BEFORE_MIN_EPOCH',
      message:
        'createdAt: 1723161301 is before 2000-01-01T00:00:00.000Z (MIN_EPOCH_MS): it looks like seconds; times are epoch milliseconds',
    });
    expect(checkLiveTime('ts', 5, guards, now)).toEqual({
      code: 'TIME_BEFORE_MIN_EPOCH',
      message: 'ts: 5 is before 2000-01-01T00:00:00.000Z (MIN_EPOCH_MS)',
    });
  });

  it('refuses a time more than MAX_CLOCK_SKEW_MS ahead of the wall clock, even one no date can hold', () => {
    expect(checkLiveTime('ts', now + 300_000, guards, now)).toBeNull();
    expect(checkLiveTime('ts', now + 300_001, guards, now)).toEqual({
      code: 'TIME_AHEAD_OF_CLOCK',
      message: `ts: ${now + 300_001} (2026-12-02T00:05:00.001Z) is more than 300000 ms ahead of the clock (MAX_CLOCK_SKEW_MS)`,
    });
    expect(checkLiveTime('createdAt', 1e17, guards, now)?.message).toMatch(/\(beyond the largest date\)/);
  });
});

describe('redactSecret: configuration errors never echo a password', () => {
  it('masks the password of a URL, also a malformed one', () => {
    expect(redactSecret('postgres://app:s3cr%t@db:5432/x')).toBe('postgres://app:***@db:5432/x');
    expect(redactSecret('redis://:p@ss@host:6379')).toBe('redis://:***@host:6379');
    expect(redactSecret('not a url://u:pw@h')).toBe('not a url://u:***@h');
    expect(redactSecret('redis://host:6379')).toBe('redis://host:6379');
  });
});
