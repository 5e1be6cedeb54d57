import type { FastifyInstance } from 'fastify';
import type { OutcomeLine } from '../../../machines/types.ts';
import { buildChartData, CHART_WINDOWS, type ChartWindow } from '../../analysis/chartData.ts';
import { DEFAULT_SIZING, type SizingOptions } from '../../analysis/dailyReturns.ts';
import { calendarWindowStart, ceilDay } from '../../analysis/windows.ts';
import { readSignalEvents } from '../../events/readSignalEvents.ts';
import { readLive } from '../../live/readLive.ts';
import { loadRecent } from '../../live/shardStore.ts';
import { EventKeys, ShardKeys, shardOf } from '../../names.ts';
import { findSignalPayload } from '../../storage/findSignalPayload.ts';
import { latestCloseTime } from '../../storage/latestCloseTime.ts';
import { listOpenSignals } from '../../storage/listOpenSignals.ts';
import { loadOutcomes } from '../../storage/loadOutcomes.ts';
import { readOutcomeLines } from '../../storage/readOutcomeLines.ts';
import { signalLevels } from '../dashboard/signalLevels.ts';
import { HttpError } from '../httpErrors.ts';
import { tenantScope } from '../tenantScope.ts';
import type { ApiDeps } from './ApiDeps.ts';
import { responses, secured, TENANT_QUERY } from './apiSchemas.ts';

const NUM = { type: 'number' };
const NUM_OR_NULL = { type: ['number', 'null'] };
const INT = { type: 'integer' };
const NUMS = { type: 'array', items: NUM };
const STR = { type: 'string' };

const BIN = {
  type: 'object',
  required: ['lower', 'upper', 'label', 'count'],
  properties: { lower: NUM, upper: NUM, label: STR, count: INT },
};

const FILTER = {
  type: 'object',
  properties: { strategy: STR, model: STR, modelVersion: STR, symbol: STR },
};

const EQUITY_SERIES = {
  type: 'object',
  description:
    'A group\'s equity curve: a point at the window start, then one per sized trade (close order). docs/DASHBOARD.md "Equity and drawdown".',
  required: ['kind', 'key', 'label', 'outcomes', 'trades', 't', 'equity', 'drawdown', 'pnl'],
  properties: {
    kind: { enum: ['all', 'strategy', 'model'] },
    key: STR,
    label: STR,
    values: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
    outcomes: INT,
    trades: INT,
    thinned: {
      type: 'boolean',
      description: 'Over 2000 points: thinned, each run keeping its low and its end.',
    },
    t: { type: 'array', items: INT, description: 'Epoch ms of each point.' },
    equity: { ...NUMS, description: 'Equity after each point, 1 = the start.' },
    drawdown: { ...NUMS, description: 'Fraction ≤ 0 below the running peak.' },
    pnl: { ...NUMS, description: 'Cumulative P&L in quote currency (signals with a notional).' },
    maxDrawdownDaily: { ...NUM, description: "The analyzer's maxDrawdown over daily points." },
    cumReturn: NUM,
    pnlSum: NUM_OR_NULL,
    feesSum: NUM_OR_NULL,
    currencyTrades: INT,
    netReturnSum: NUM,
  },
};

/** The OpenAPI schema of src/analysis/chartData.ts `ChartData`. */
export const CHART_DATA_SCHEMA = {
  type: 'object',
  required: [
    'version',
    'tenant',
    'window',
    'windowStart',
    'windowEnd',
    'sizing',
    'totals',
    'equity',
    'outcomeMix',
    'rMultiple',
    'holding',
    'excursions',
    'outcomeCodes',
    'calibration',
  ],
  properties: {
    version: { const: 1 },
    tenant: STR,
    window: { enum: [...CHART_WINDOWS] },
    windowStart: INT,
    windowEnd: INT,
    filter: FILTER,
    sizing: {
      type: 'object',
      required: ['convention', 'riskFraction', 'description'],
      properties: {
        convention: { enum: ['equal_risk', 'equal_notional'] },
        riskFraction: NUM,
        description: STR,
      },
    },
    totals: {
      type: 'object',
      required: ['outcomes', 'trades', 'unfilled', 'sized'],
      properties: { outcomes: INT, trades: INT, unfilled: INT, sized: INT },
    },
    equity: {
      type: 'object',
      required: ['all', 'strategy', 'model'],
      properties: {
        all: EQUITY_SERIES,
        strategy: { type: 'array', items: EQUITY_SERIES },
        model: { type: 'array', items: EQUITY_SERIES },
      },
    },
    outcomeMix: {
      type: 'array',
      items: { type: 'object', required: ['code', 'count'], properties: { code: STR, count: INT } },
    },
    rMultiple: {
      type: 'object',
      required: ['bins', 'count'],
      properties: { bins: { type: 'array', items: BIN }, count: INT, mean: NUM_OR_NULL, median: NUM_OR_NULL },
    },
    holding: {
      type: 'object',
      required: ['bins', 'count'],
      properties: { bins: { type: 'array', items: BIN }, count: INT, medianMs: NUM_OR_NULL },
    },
    excursions: {
      type: 'object',
      required: ['points', 'total', 'shown'],
      properties: {
        points: {
          type: 'array',
          description: '[mae, mfe, rMultiple | null, outcome code index] per trade.',
          items: { type: 'array', items: NUM_OR_NULL, minItems: 4, maxItems: 4 },
        },
        total: INT,
        shown: INT,
      },
    },
    outcomeCodes: { type: 'array', items: STR },
    calibration: {
      type: 'object',
      required: ['buckets', 'brier', 'forecasts'],
      properties: {
        buckets: {
          type: 'array',
          items: {
            type: 'object',
            required: ['lower', 'upper', 'count', 'meanConfidence', 'hitRate'],
            properties: {
              lower: NUM,
              upper: NUM,
              count: INT,
              meanConfidence: NUM_OR_NULL,
              hitRate: NUM_OR_NULL,
            },
          },
        },
        brier: NUM_OR_NULL,
        forecasts: INT,
      },
    },
  },
};

const OPEN_SIGNALS_SCHEMA = {
  type: 'object',
  required: ['signals'],
  properties: {
    signals: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'symbol', 'side', 'createdAt'],
        properties: {
          id: STR,
          symbol: STR,
          side: { enum: ['long', 'short'] },
          strategy: { type: ['string', 'null'] },
          model: { type: ['string', 'null'] },
          modelVersion: { type: ['string', 'null'] },
          confidence: NUM_OR_NULL,
          createdAt: INT,
        },
      },
    },
  },
};

const LEVELS_SCHEMA = {
  type: 'object',
  required: ['id', 'symbol', 'side', 'state', 'entry', 'takeProfits', 'stops', 'legs', 'ticks'],
  properties: {
    id: STR,
    symbol: STR,
    side: { enum: ['long', 'short'] },
    state: STR,
    outcome: { type: ['string', 'null'] },
    createdAt: INT,
    closedAt: { type: ['integer', 'null'] },
    entry: { type: 'object', required: ['type'], properties: { type: STR, price: NUM_OR_NULL } },
    fill: { type: ['object', 'null'], properties: { ts: INT, price: NUM } },
    takeProfits: {
      type: 'array',
      items: { type: 'object', properties: { level: INT, price: NUM, fraction: NUM } },
    },
    stops: {
      type: 'array',
      description: 'The stop over time: from `ts` on it stood at `price`.',
      items: { type: 'object', properties: { ts: INT, price: NUM, kind: STR } },
    },
    legs: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          ts: INT,
          price: NUM,
          reason: STR,
          level: { type: ['integer', 'null'] },
          fraction: NUM,
          stopKind: { type: ['string', 'null'] },
        },
      },
    },
    ticks: {
      type: 'array',
      items: { type: 'object', required: ['ts', 'price'], properties: { ts: INT, price: NUM } },
    },
    ticksInSpan: INT,
    bufferFrom: { type: ['integer', 'null'], description: "The oldest tick of the symbol's buffer." },
    eventsIncomplete: { type: 'boolean' },
  },
};

/**
 * The dashboard's reads (docs/API.md "Charts", docs/DASHBOARD.md): `GET /v1/charts` (the
 * analytics charts' data), `GET /v1/signals?state=open` and `GET /v1/signals/{id}/levels` (a
 * signal's levels over its symbol's recent ticks). Tenant-scoped as every read.
 */
export function chartRoutes(
  app: FastifyInstance,
  deps: ApiDeps,
  sizing: SizingOptions = DEFAULT_SIZING,
): void {
  app.get(
    '/v1/charts',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['analysis'],
        summary:
          "The analytics charts' data of one window: equity and drawdown per strategy and model version, distributions, calibration",
        description:
          "Computed from the stored outcomes on each request with the analyzer's sizing convention (ANALYZE_SIZING, ANALYZE_RISK_FRACTION). The window ends at the next UTC midnight, as the analyzer's do.",
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...TENANT_QUERY,
            window: { enum: [...CHART_WINDOWS], default: '7d' },
            anchor: {
              enum: ['now', 'latest'],
              default: 'now',
              description:
                "Where the window ends: the UTC midnight after now, or after the tenant's latest outcome (replayed history).",
            },
            strategy: { type: 'string', maxLength: 200 },
            model: { type: 'string', maxLength: 200 },
            modelVersion: { type: 'string', maxLength: 200 },
            symbol: { type: 'string', maxLength: 200 },
          },
        },
        response: responses({ 200: CHART_DATA_SCHEMA }),
      },
    },
    async (request) => {
      const q = request.query as {
        tenant?: string;
        window: ChartWindow;
        anchor: 'now' | 'latest';
        strategy?: string;
        model?: string;
        modelVersion?: string;
        symbol?: string;
      };
      // An admin key naming no tenant sees its own: a chart is of one tenant.
      const tenant = tenantScope(request.principal!, q.tenant) ?? request.principal!.tenant;
      const at =
        q.anchor === 'latest' ? ((await latestCloseTime(deps.pool, tenant)) ?? deps.now()) : deps.now();
      const end = ceilDay(at + 1);
      const since = q.window === 'all' ? undefined : calendarWindowStart(q.window, end);
      const columns = await loadOutcomes(deps.pool, {
        end,
        tenant,
        ...(since === undefined ? {} : { since }),
      });
      const filter = Object.fromEntries(
        (['strategy', 'model', 'modelVersion', 'symbol'] as const).flatMap((k) =>
          q[k] === undefined ? [] : [[k, q[k]]],
        ),
      );
      return buildChartData(columns, { window: q.window, end, tenant, filter, sizing });
    },
  );

  app.get(
    '/v1/signals',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['signals'],
        summary: 'The open signals: accepted, without a committed outcome, newest first',
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['state'],
          properties: {
            ...TENANT_QUERY,
            state: { enum: ['open'], description: 'Only `open` for now.' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: responses({ 200: OPEN_SIGNALS_SCHEMA }),
      },
    },
    async (request) => {
      const q = request.query as { tenant?: string; limit: number };
      const tenant = tenantScope(request.principal!, q.tenant) ?? request.principal!.tenant;
      return { signals: await listOpenSignals(deps.pool, tenant, q.limit) };
    },
  );

  app.get(
    '/v1/signals/:id/levels',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['signals'],
        summary:
          "A signal's entry, take-profit and stop levels (the stop over time), its legs, and its symbol's recent ticks",
        description:
          "Ticks come from the symbol's shard buffer (the last TICK_BUFFER_SIZE to twice that many ticks, as the shard trims its buffer; shared by every tenant: shown only for a signal of the key's tenant); stop moves from the events stream (EVENTS_RETENTION).",
        ...secured('read'),
        params: {
          type: 'object',
          required: ['id'],
          properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
        },
        querystring: { type: 'object', additionalProperties: false, properties: TENANT_QUERY },
        response: responses({ 200: LEVELS_SCHEMA }, 404),
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const tenant = tenantScope(request.principal!, (request.query as { tenant?: string }).tenant);
      const found = await findSignalPayload(deps.pool, id, tenant);
      if (found === null)
        throw new HttpError(
          'SIGNAL_NOT_FOUND',
          `no signal ${JSON.stringify(id.slice(0, 100))} for this API key`,
        );
      // Redis before PostgreSQL, as GET /v1/signals/{id} reads (a signal moves checkpoint → outbox → PostgreSQL).
      const live = await readLive(deps, [{ id, symbol: found.symbol }]);
      const stored = await readOutcomeLines(deps.pool, [id]);
      const line: OutcomeLine = stored.get(id) ?? live.get(id) ?? { id, state: 'pending', legs: [] };
      const [events, ticks] = await Promise.all([
        readSignalEvents(deps.redis, new EventKeys(deps.prefix), {
          id,
          tenant: found.tenant,
          fromMs: found.receivedAt - 1000,
        }),
        loadRecent(deps.redis, new ShardKeys(deps.prefix, shardOf(found.symbol, deps.shards)), found.symbol),
      ]);
      return {
        ...signalLevels({
          id,
          symbol: found.symbol,
          payload: found.payload,
          line,
          events: events.events,
          ticks,
        }),
        eventsIncomplete: events.incomplete,
      };
    },
  );
}
