import type { FastifyInstance } from 'fastify';
import type { Tick } from '../../../machines/types.ts';
import { trackerError, type TrackerError } from '../../errors.ts';
import { checkLiveTime } from '../../validation/screenPayload.ts';
import { HttpError } from '../httpErrors.ts';
import type { ApiDeps } from './ApiDeps.ts';
import { OWN_VALIDATION, responses, secured } from './apiSchemas.ts';
import { IDEMPOTENT_REPLAYED_HEADER, readIdempotencyKey } from './idempotencyKey.ts';
import { IDEMPOTENCY_KEY_HEADER, tickIdempotency } from './tickIdempotency.ts';

/** The most ticks one request may carry. */
export const MAX_TICKS_PER_REQUEST = 10_000;

const price = { type: 'number', exclusiveMinimum: 0 };
const TICK_SCHEMA = {
  oneOf: [
    {
      type: 'array',
      description: '[symbol, ts, price, bid?, ask?] as on the shard queues (docs/QUEUES.md "Ticks")',
      minItems: 3,
      maxItems: 5,
      items: false,
      prefixItems: [
        { type: 'string', minLength: 1 },
        { type: 'integer' },
        price,
        { oneOf: [price, { type: 'null' }] },
        { oneOf: [price, { type: 'null' }] },
      ],
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['symbol', 'ts', 'price'],
      properties: {
        symbol: { type: 'string', minLength: 1 },
        ts: { type: 'integer' },
        price,
        bid: price,
        ask: price,
      },
    },
  ],
};

const isPrice = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** A tick as sent (array or object), or why not. */
function readTick(raw: unknown, at: string): Tick | TrackerError {
  let symbol: unknown, ts: unknown, last: unknown, bid: unknown, ask: unknown;
  if (Array.isArray(raw) && raw.length >= 3 && raw.length <= 5) [symbol, ts, last, bid, ask] = raw;
  else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw))
    ({ symbol, ts, price: last, bid, ask } = raw as Record<string, unknown>);
  else
    return trackerError(
      'PAYLOAD_SCHEMA',
      `${at}: must be [symbol, ts, price, bid?, ask?] or {symbol, ts, price, bid?, ask?}`,
    );
  if (typeof symbol !== 'string' || !/^\S{1,64}$/.test(symbol))
    return trackerError('PAYLOAD_SCHEMA', `${at}.symbol: must be 1 to 64 characters without spaces`);
  if (!Number.isSafeInteger(ts))
    return trackerError('PAYLOAD_SCHEMA', `${at}.ts: must be an integer (epoch ms)`);
  if (!isPrice(last)) return trackerError('PAYLOAD_SCHEMA', `${at}.price: must be a number above 0`);
  for (const [name, v] of [
    ['bid', bid],
    ['ask', ask],
  ] as const)
    if (v !== undefined && v !== null && !isPrice(v))
      return trackerError('PAYLOAD_SCHEMA', `${at}.${name}: must be a number above 0, or null`);
  return {
    symbol,
    ts: ts as number,
    price: last,
    ...(isPrice(bid) ? { bid } : {}),
    ...(isPrice(ask) ? { ask } : {}),
  };
}

/** `POST /v1/ticks` (docs/API.md): a batch of ticks through the tick publisher. */
export function tickRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.post(
    '/v1/ticks',
    {
      config: { scope: 'submit' },
      bodyLimit: deps.bodyLimit,
      ...OWN_VALIDATION,
      schema: {
        tags: ['ticks'],
        summary: `Publish up to ${MAX_TICKS_PER_REQUEST} ticks to their shards`,
        description:
          "All or nothing: one bad tick refuses the request (422, each problem named). Ticks are market data shared by every tenant. Keep one producer per symbol: ticks older than their symbol's latest are late (counted, not applied). To retry safely after an error or a lost answer, send an Idempotency-Key and send it again with the retry: the ticks are published once, and a retry of a completed request gets its first answer with `Idempotent-Replayed: true`.",
        ...secured('submit'),
        headers: {
          type: 'object',
          properties: { 'idempotency-key': IDEMPOTENCY_KEY_HEADER },
        },
        body: {
          type: 'object',
          required: ['ticks'],
          additionalProperties: false,
          properties: {
            ticks: { type: 'array', minItems: 1, maxItems: MAX_TICKS_PER_REQUEST, items: TICK_SCHEMA },
          },
        },
        response: responses(
          {
            202: {
              type: 'object',
              required: ['published'],
              properties: { published: { type: 'integer' } },
              headers: IDEMPOTENT_REPLAYED_HEADER,
            },
          },
          409,
          413,
          415,
          422,
        ),
      },
    },
    async (request, reply) => {
      const key = readIdempotencyKey(request.headers['idempotency-key']);
      const raw = (request.body as { ticks?: unknown } | null)?.ticks;
      if (!Array.isArray(raw) || raw.length === 0)
        throw new HttpError('BAD_REQUEST', 'ticks: must be a non-empty array', [
          trackerError('PAYLOAD_SCHEMA', 'ticks: must be a non-empty array'),
        ]);
      if (raw.length > MAX_TICKS_PER_REQUEST)
        throw new HttpError(
          'PAYLOAD_TOO_LARGE',
          `ticks: ${raw.length}, over the limit of ${MAX_TICKS_PER_REQUEST} a request`,
        );
      const ticks: Tick[] = [];
      const problems: TrackerError[] = [];
      const wallNow = deps.now();
      raw.forEach((item, i) => {
        const tick = readTick(item, `ticks[${i}]`);
        if ('code' in tick) return void problems.push(tick);
        const late = checkLiveTime(`ticks[${i}].ts`, tick.ts, deps.guards, wallNow);
        if (late !== null) return void problems.push(late);
        ticks.push(tick);
      });
      if (problems.length > 0) {
        throw new HttpError(
          'UNPROCESSABLE',
          `${problems.length} of ${raw.length} ticks refused; none published`,
          problems.slice(0, 100),
        );
      }
      if (key === null) {
        await deps.ticks.publish(ticks);
        return reply.code(202).send({ published: ticks.length });
      }
      const once = tickIdempotency(deps.redis, deps.prefix, request.principal!.tenant, key);
      const claim = await once.claim(ticks);
      if (claim.action === 'replay')
        return reply.code(202).header('Idempotent-Replayed', 'true').send({ published: claim.published });
      await deps.ticks.publish(ticks, { batchId: once.batchId });
      await once.completed(ticks.length);
      return reply.code(202).send({ published: ticks.length });
    },
  );
}
