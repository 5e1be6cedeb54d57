/**
 * Run as the processes run (`node --import tsx test/support/tickPathNamings.ts`): counts the
 * functions tsx names at run time while a shard applies ticks, and prints one JSON line
 * `{"probe", "small", "large"}`.
 *
 * tsx keeps function names (esbuild's `keepNames`): every arrow function bound to a name is
 * passed to `__name`, an `Object.defineProperty(fn, 'name', …)`, each time it is created. One
 * created per tick cost about a sixth of a shard worker's CPU (docs/ARCHITECTURE.md "Code
 * that runs once a tick"). `small` and `large` are the namings of a ticks job of 400 and of
 * 1,600 ticks (the same signals, none closing); `probe` those of two calls of a function that
 * declares a helper inside itself (namedInside.ts), to show that the count sees tsx's naming.
 *
 * Every module counted is imported after `Object.defineProperty` is wrapped: esbuild's helper
 * keeps the function it finds when its module is evaluated (in this file, before the wrapping).
 */
import type { SignalPayload } from '../../machines/types.ts';

const define = Object.defineProperty;
let namings = 0;
Object.defineProperty = function <T>(o: T, p: PropertyKey, d: PropertyDescriptor & ThisType<unknown>): T {
  if (p === 'name' && typeof o === 'function') namings++;
  return define(o, p, d);
};

const { MemoryShardStore } = await import('./MemoryShardStore.ts');
const { ShardRuntime } = await import('../../src/live/ShardRuntime.ts');
const { normalize } = await import('./runEngine.ts');
const { namedInside } = await import('./namedInside.ts');

const T = 1_700_000_000_000;
const SYMBOLS = ['AAA', 'BBB', 'CCC', 'DDD'];
const BUFFER = 256;
const store = new MemoryShardStore(BUFFER);
const runtime = new ShardRuntime(BUFFER);
let jobs = 0;
const run = (data: Parameters<typeof store.process>[2]): number => {
  const before = namings;
  store.process(runtime, `${++jobs}`, data);
  return namings - before;
};

// Long and short signals with stops, take-profits, a trailing stop and quotes on the ticks:
// the index, the trails and the quote checks all run on every tick, and nothing closes.
const signals = normalize(
  SYMBOLS.flatMap((symbol, s) =>
    Array.from({ length: 8 }, (_, i): SignalPayload => ({
      v: 1,
      id: `${symbol}-${i}`,
      symbol,
      side: i % 2 === 0 ? 'long' : 'short',
      createdAt: T + s,
      entry: { type: 'market' },
      takeProfits: [{ price: i % 2 === 0 ? 200 : 50, fraction: 1 }],
      stopLoss: { price: i % 2 === 0 ? 50 : 200 },
      ...(i % 4 === 1 && { trailing: { distanceBps: 4000, activation: 'fill' as const } }),
    })),
  ),
);
run({ kind: 'register-batch', signals });

let ts = T + 1000;
const ticksJob = (n: number): Parameters<typeof store.process>[2] => ({
  kind: 'ticks',
  ticks: Array.from({ length: n }, (_, i) => {
    const price = 100 + (i % 7) - 3;
    return [SYMBOLS[i % SYMBOLS.length]!, (ts += 250), price, price - 0.01, price + 0.01];
  }),
});
run(ticksJob(400)); // warm: first ticks of each symbol (new rings, clocks)

const probeBefore = namings;
namedInside();
namedInside();
const probed = namings - probeBefore;
const small = run(ticksJob(400));
const large = run(ticksJob(1600));
if ([...runtime.openSignals()].length !== signals.length)
  throw new Error('a signal closed: the ticks must not close any');
process.stdout.write(`${JSON.stringify({ probe: probed, small, large })}\n`);
