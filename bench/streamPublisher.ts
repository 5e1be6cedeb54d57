/**
 * The publisher of `npm run bench -- stream`, a process of its own (forked by bench/stream.ts) so
 * that its rate does not depend on the web process's event loop: `RATE` `signal.closed` events a
 * second for `SECONDS`, through `publishEvents` in batches every 10 ms as the flusher would, each
 * carrying its publication time (`data.sentAt`, the same clock as the clients'). Reports the
 * number published to its parent.
 */
import { Redis } from 'ioredis';
import { publishEvents } from '../src/events/publishEvents.ts';
import { EventKeys } from '../src/names.ts';

const { REDIS_URL, PREFIX, RATE, SECONDS } = process.env;
const redis = new Redis(REDIS_URL!);
const keys = new EventKeys(PREFIX!);
const perTick = Math.max(1, Math.round(Number(RATE) / 100));
let n = 0;
const start = Date.now();
const end = start + Number(SECONDS) * 1000;
let tick = 0;
while (Date.now() < end) {
  const batch = Array.from({ length: perTick }, () => {
    const id = `s${++n}`;
    return {
      key: `closed:${id}`,
      event: {
        type: 'signal.closed' as const,
        id,
        tenant: 'bench',
        symbol: 'BTCUSDT',
        ts: Date.now(),
        data: { outcome: 'TP_HIT', sentAt: performance.timeOrigin + performance.now() },
      },
    };
  });
  await publishEvents(redis, keys, batch, { maxLen: 100_000, maxAgeMs: 0 }, Date.now);
  // On a fixed schedule, so that a slow XADD does not lower the rate.
  tick++;
  await new Promise((r) => setTimeout(r, Math.max(0, start + tick * 10 - Date.now())));
}
redis.disconnect();
process.send!({ published: n });
