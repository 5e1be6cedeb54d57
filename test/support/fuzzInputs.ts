/**
 * Bad input for the fuzz tests (docs/FUZZING.md): fast-check arbitraries of everything a
 * producer, a feed, a file or an HTTP client can send wrong. Malformed JSON text, wrong types,
 * NaN/Infinity (as strings in JSON, as bare tokens in text), zero and negative prices, huge
 * arrays and strings, deep nesting, duplicate ids, `__proto__`/`constructor`/`prototype` keys,
 * out-of-order and far-future times, NUL and lone surrogates; and valid signals spoiled in one
 * place, which reach further into the validation than random trees do.
 *
 * How many cases a property runs: {@link fuzzRuns}, the CI count unless FUZZ_RUNS says otherwise.
 */
import fc from 'fast-check';

/**
 * Runs per property: FUZZ_RUNS (a long run: `FUZZ_RUNS=20000 npm run test:fuzz`) or the given
 * CI count, which keeps the whole fuzz tier within its budget.
 */
export function fuzzRuns(ciRuns: number): number {
  const asked = Number(process.env.FUZZ_RUNS);
  return Number.isSafeInteger(asked) && asked > 0 ? asked : ciRuns;
}

/** fast-check parameters with {@link fuzzRuns}; FUZZ_SEED replays a reported failure. */
export function fuzzParams(ciRuns: number): fc.Parameters<unknown> {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: fuzzRuns(ciRuns), ...(Number.isSafeInteger(seed) && { seed }) };
}

/** What `Object.prototype` holds now; compare after feeding input to catch prototype pollution. */
export function prototypeSnapshot(): string[] {
  return [Object.prototype, Array.prototype, Function.prototype].flatMap((p) =>
    Object.getOwnPropertyNames(p).sort(),
  );
}

export const T0 = 1_700_000_000_000;

/** Keys that bite: prototype keys, empty, NUL, and the names the schemas use. */
export const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    '',
    '\u0000',
    '\ud800',
    'id',
    'v',
    'kind',
    'price',
    'ts',
    'ticks',
    'signal',
    'op',
    'tenant',
    'symbol',
    'createdAt',
    'takeProfits',
  ),
  fc.string({ maxLength: 12 }),
);

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Strings that bite: non-finite numbers spelled out, NUL, lone surrogates, huge ones. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '1e309',
    '-0',
    '0x10',
    ' 100 ',
    '',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '__proto__',
    'constructor',
    'null',
    '{"a":1}',
    'AAPL',
    '𝔘nicode',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(fc.oneof(loneSurrogate, fc.constant('\u0000'), fc.string({ maxLength: 3 })), { maxLength: 8 })
    .map((parts) => parts.join('')),
  // Past MAX_PAYLOAD_BYTES (64 KiB) and every field limit.
  fc.integer({ min: 70_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
);

/** Numbers that bite (JSON-representable: non-finite ones become null through JSON). */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    -1,
    -100,
    1e-320,
    0.1 + 0.2,
    Number.MAX_VALUE,
    Number.MIN_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    8_640_000_000_000_000,
    8_640_000_000_000_001,
    1e20,
    1_700_000_000, // seconds, not milliseconds
    T0 + 10 * 365 * 86_400_000, // far future
    T0 - 1, // just before the valid signals' time: out of order
    NaN,
    Infinity,
    -Infinity,
  ),
  fc.double(),
  fc.integer(),
);

/** An object with these entries as own properties (a `__proto__` key stays a key, as JSON.parse makes it). */
export function ownObject(entries: readonly [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

const leaf: fc.Arbitrary<unknown> = fc.oneof(nastyString, nastyNumber, fc.boolean(), fc.constant(null));

/** A JSON-ish tree of nasty leaves under nasty keys (a few levels, a few children each). */
export const nastyTree: fc.Arbitrary<unknown> = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 4 }),
    fc.array(fc.tuple(nastyKey, tie('tree')), { maxLength: 5 }).map(ownObject),
  ),
})).tree;

/** Nesting far past what any payload needs: `{"a":{"a":…}}` or `[[[…]]]`, `depth` levels. */
export function nested(depth: number, kind: 'object' | 'array', inner: unknown = 1): unknown {
  let v: unknown = inner;
  for (let i = 0; i < depth; i++) v = kind === 'object' ? { a: v } : [v];
  return described(v as object, `<${kind}s nested ${depth} deep>`);
}

/**
 * `value` with a short description for fast-check's counterexample report, which would
 * otherwise recurse through it (and overflow on deep nesting, hiding the failure). The
 * description is a symbol-keyed, non-enumerable property: JSON and the validators never see it.
 */
export function described<V extends object>(value: V, text: string): V {
  Object.defineProperty(value, fc.toStringMethod, { value: () => text, enumerable: false });
  return value;
}

export const deepNesting: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.integer({ min: 100, max: 2_000 }),
    fc.constantFrom('object', 'array') as fc.Arbitrary<'object' | 'array'>,
  )
  .map(([depth, kind]) => nested(depth, kind));

/**
 * Arrays of 2k–20k small items. (Small: a payload arrives as text, so its items cannot share
 * one huge string the way an array built in memory can.)
 */
export const hugeArray: fc.Arbitrary<unknown[]> = fc
  .tuple(
    fc.integer({ min: 2_000, max: 20_000 }),
    fc.oneof(
      fc.integer(),
      fc.constant(null),
      fc.string({ maxLength: 4 }),
      fc.constant({ price: 1, fraction: 0 }),
    ),
  )
  .map(([n, item]) =>
    described(
      Array.from({ length: n }, () => item),
      `<array of ${n} × ${fc.stringify(item).slice(0, 40)}>`,
    ),
  );

/** A valid track-signal payload (long or short, market entry) on `symbol` around price `p`. */
export function validSignal(
  id: string,
  symbol: string,
  side: 'long' | 'short',
  p: number,
  createdAt: number,
) {
  const up = side === 'long' ? 1 : -1;
  return {
    v: 1,
    id,
    symbol,
    side,
    createdAt,
    entry: { type: 'market' },
    takeProfits: [
      { price: p + up * 2, fraction: 0.5 },
      { price: p + up * 4, fraction: 0.5 },
    ],
    stopLoss: { price: p - up * 3 },
  };
}

/** Paths into a valid signal where one spoiled value goes. */
const SIGNAL_PATHS: readonly (readonly (string | number)[])[] = [
  ['v'],
  ['id'],
  ['symbol'],
  ['side'],
  ['createdAt'],
  ['entry'],
  ['entry', 'type'],
  ['entry', 'price'],
  ['takeProfits'],
  ['takeProfits', 0],
  ['takeProfits', 0, 'price'],
  ['takeProfits', 1, 'fraction'],
  ['stopLoss'],
  ['stopLoss', 'price'],
  ['tenant'],
  ['strategy'],
  ['model'],
  ['confidence'],
  ['meta'],
  ['entryExpiresAt'],
  ['feeBps'],
];

/** `value` with the value at `path` replaced (or removed, when `replacement` is the `DELETE` marker). */
export function setPath(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value] as unknown[];
    if (typeof head === 'number') {
      // JSON has no holes: pad with null.
      while (copy.length < head) copy.push(null);
      if (replacement === DELETE && rest.length === 0) copy.splice(head, 1);
      else copy[head] = setPath(copy[head], rest, replacement);
    }
    return copy;
  }
  const base = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const entries = Object.entries(base).filter(([k]) => k !== String(head));
  if (!(replacement === DELETE && rest.length === 0))
    entries.push([String(head), setPath(base[String(head)], rest, replacement)]);
  return ownObject(entries);
}

export const DELETE = Symbol('delete');

/** One spoil of a payload: a nasty value at a known path, a path removed, or a nasty key added. */
export function spoiled<P>(base: fc.Arbitrary<P>, paths: readonly (readonly (string | number)[])[]) {
  const value = fc.oneof(
    { weight: 4, arbitrary: leaf },
    { weight: 3, arbitrary: nastyTree },
    { weight: 2, arbitrary: fc.constant(DELETE) },
    { weight: 1, arbitrary: deepNesting },
    { weight: 1, arbitrary: hugeArray },
  );
  const edit = fc.oneof(
    fc.tuple(fc.constantFrom(...paths), value).map(([path, v]) => ({ path, v })),
    fc
      .tuple(fc.constantFrom<readonly (string | number)[]>([], ...paths), nastyKey, leaf)
      .map(([path, key, v]) => ({ path: [...path, key], v: v as unknown })),
  );
  return fc
    .tuple(base, fc.array(edit, { minLength: 1, maxLength: 3 }))
    .map(([payload, edits]) => edits.reduce<unknown>((p, e) => setPath(p, e.path, e.v), payload));
}

export const validSignalArb = fc
  .record({
    n: fc.integer({ min: 0, max: 1_000_000 }),
    side: fc.constantFrom<'long' | 'short'>('long', 'short'),
    p: fc.integer({ min: 10, max: 1000 }),
  })
  .map(({ n, side, p }) => validSignal(`fz-${n}`, 'FUZ', side, p, T0));

/** A track-signal payload that is wrong somewhere, or anything at all. */
export const badSignalPayload: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: spoiled(validSignalArb, SIGNAL_PATHS) },
  { weight: 1, arbitrary: nastyTree },
  { weight: 1, arbitrary: deepNesting },
);

const validOpArb = fc.oneof(
  fc.constant({ op: 'cancel', id: 'fz-op', ts: T0 + 1 }),
  fc.constant({ op: 'exit', id: 'fz-op', ts: T0 + 1, price: 100 }),
  fc.constant({ op: 'amend', id: 'fz-op', ts: T0 + 1, stopLoss: { price: 90 } }),
);

/** A signal-ops payload that is wrong somewhere, or anything at all. */
export const badOpPayload: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: spoiled(validOpArb, [
      ['op'],
      ['id'],
      ['ts'],
      ['price'],
      ['fraction'],
      ['force'],
      ['stopLoss'],
      ['stopLoss', 'price'],
      ['takeProfits'],
    ]),
  },
  { weight: 1, arbitrary: nastyTree },
  { weight: 1, arbitrary: deepNesting },
);

/** A wire tick `[symbol, ts, price, bid?, ask?]` spoiled somewhere, or not an array at all. */
export const badWireTick: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.oneof(fc.constant('FUZ'), nastyString), nastyNumber, nastyNumber),
  fc.tuple(
    fc.constant('FUZ'),
    fc.constant(T0 + 5),
    nastyNumber,
    fc.oneof(nastyNumber, fc.constant(null)),
    nastyNumber,
  ),
  fc.array(leaf, { maxLength: 7 }),
  leaf,
  nastyTree,
);

/** Shard job data a foreign producer may add: unknown kinds, kinds without their body, bad bodies. */
export const badShardJob: fc.Arbitrary<unknown> = fc.oneof(
  nastyTree,
  fc.record({ kind: fc.oneof(nastyString, fc.constantFrom('ticks', 'register', 'op', 'sweep', 'forget')) }),
  fc.record({ kind: fc.constant('ticks'), ticks: fc.oneof(fc.array(badWireTick, { maxLength: 20 }), leaf) }),
  fc.record({ kind: fc.constant('register'), signal: fc.oneof(badSignalPayload, nastyTree) }),
  fc.record({ kind: fc.constant('op'), op: badOpPayload }),
  fc.record({ kind: fc.constant('sweep'), clock: nastyNumber, graceMs: nastyNumber }),
  fc.record({ kind: fc.constant('forget'), ids: fc.oneof(fc.array(nastyString, { maxLength: 5 }), leaf) }),
  deepNesting,
);

/**
 * JSON text that is not JSON, or JSON that JavaScript producers cannot send: bare NaN and
 * Infinity (Python's `json.dumps`), truncation, trailing garbage, duplicate keys, numbers past
 * a double, nesting past any parser's patience, NUL, and text that is not an object at all.
 */
export const badJsonText: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      validSignalArb,
      fc.constantFrom('NaN', 'Infinity', '-Infinity', 'undefined', '1e400', '-1e400', "'x'"),
    )
    .map(([s, token]) => JSON.stringify(s).replace(/"price":\d+/, `"price":${token}`)),
  validSignalArb.chain((s) =>
    fc.integer({ min: 1, max: JSON.stringify(s).length - 1 }).map((n) => JSON.stringify(s).slice(0, n)),
  ),
  validSignalArb.map((s) => `${JSON.stringify(s)} trailing`),
  validSignalArb.map((s) => JSON.stringify(s).replace('{', '{"id":"dup-a","id":"dup-b",')),
  validSignalArb.map((s) =>
    JSON.stringify(s).replace('{', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},'),
  ),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1_000, max: 50_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.constantFrom(
    '',
    ' ',
    'null',
    'true',
    '"text"',
    '42',
    '[]',
    '\u0000',
    '{"a":"\ud800"}',
    '{"a":"\\ud800"}',
    '\uFEFF{}',
  ),
  fc.string({ unit: 'binary', maxLength: 60 }),
);
