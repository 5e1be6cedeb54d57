import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OUTCOME_CODES } from '../../metrics/tradeRecord.ts';
import { csvLine } from '../../csv/csvLine.ts';
import { LABEL_COLUMNS, type LabelRow } from '../../labels/labelOf.ts';
import { readLabels } from '../../labels/readLabels.ts';
import { pageOutcomes, type OutcomeRecord } from '../../storage/pageOutcomes.ts';
import { HttpError } from '../httpErrors.ts';
import { tenantScope } from '../tenantScope.ts';
import type { ApiDeps } from './ApiDeps.ts';
import { responses, secured, TENANT_QUERY } from './apiSchemas.ts';
import { decodeCursor, encodeCursor } from './pageCursor.ts';
import { isQueryTime } from './timeBounds.ts';
import { preferredType } from './preferredType.ts';

/** The columns of an outcome row, in CSV order. */
const OUTCOME_COLUMNS: readonly (keyof OutcomeRecord)[] = [
  'signalId',
  'tenant',
  'symbol',
  'side',
  'strategy',
  'model',
  'modelVersion',
  'timeframe',
  'confidence',
  'signalCreatedAt',
  'outcome',
  'partial',
  'fillTs',
  'fillPrice',
  'closedAt',
  'holdingMs',
  'grossReturn',
  'netReturn',
  'rMultiple',
  'pnl',
  'fees',
  'mfe',
  'mae',
  'stale',
];

const TIME_PARAM = {
  type: 'string',
  description: 'Epoch milliseconds or an ISO 8601 time, within the years 0001 to 9999.',
};

const OUTCOME_ROW_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  properties: Object.fromEntries(OUTCOME_COLUMNS.map((c) => [c, {}])),
};

/** A time given as epoch ms or ISO 8601; 400 otherwise. */
function parseTime(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!isQueryTime(ms)) {
    const message = `querystring.${name}: ${JSON.stringify(value)} is neither epoch ms nor an ISO 8601 time of the years 0001 to 9999`;
    throw new HttpError('VALIDATION_FAILED', message, [{ code: 'PAYLOAD_SCHEMA', message }]);
  }
  return ms;
}

/** Whether the client asked for CSV (`Accept: text/csv`, or `format=csv`). */
function wantsCsv(request: FastifyRequest, format: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  return preferredType(request.headers.accept, ['application/json', 'text/csv']) === 'text/csv';
}

/** `GET /v1/outcomes` and `GET /v1/labels` (docs/API.md). */
export function outcomeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    '/v1/outcomes',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['outcomes'],
        summary: 'Closed outcomes, filtered, a page at a time (JSON, or CSV with Accept: text/csv)',
        description:
          'Ordered by (closedAt, signalId). Pass `nextCursor` (also in the `Next-Cursor` header) as `cursor` for the next page; null when there is none.',
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...TENANT_QUERY,
            strategy: { type: 'string' },
            model: { type: 'string' },
            modelVersion: { type: 'string' },
            symbol: { type: 'string' },
            outcome: { enum: [...OUTCOME_CODES] },
            closedFrom: { ...TIME_PARAM, description: 'Closed at or after. ' + TIME_PARAM.description },
            closedTo: { ...TIME_PARAM, description: 'Closed before. ' + TIME_PARAM.description },
            cursor: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            format: { enum: ['json', 'csv'], description: 'Overrides Accept.' },
          },
        },
        response: responses({
          200: {
            description: 'A page of outcomes; `text/csv` has a header line and the columns of these rows.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['outcomes', 'nextCursor'],
                  properties: {
                    outcomes: { type: 'array', items: OUTCOME_ROW_SCHEMA },
                    nextCursor: { type: ['string', 'null'] },
                  },
                },
              },
              'text/csv': { schema: { type: 'string' } },
            },
          },
        }),
      },
    },
    async (request, reply) => {
      const q = request.query as Record<string, string | undefined> & { limit: number };
      const rows = await pageOutcomes(deps.pool, {
        tenant: tenantScope(request.principal!, q.tenant),
        ...(q.strategy === undefined ? {} : { strategy: q.strategy }),
        ...(q.model === undefined ? {} : { model: q.model }),
        ...(q.modelVersion === undefined ? {} : { modelVersion: q.modelVersion }),
        ...(q.symbol === undefined ? {} : { symbol: q.symbol.toUpperCase() }),
        ...(q.outcome === undefined ? {} : { outcome: q.outcome as OutcomeRecord['outcome'] }),
        closedFrom: parseTime('closedFrom', q.closedFrom),
        closedTo: parseTime('closedTo', q.closedTo),
        after: q.cursor === undefined ? null : decodeCursor(q.cursor),
        limit: q.limit,
      });
      const last = rows.at(-1);
      const nextCursor =
        rows.length === q.limit && last
          ? encodeCursor({ closedAt: last.closedAt, signalId: last.signalId })
          : null;
      if (nextCursor !== null) reply.header('next-cursor', nextCursor);
      if (wantsCsv(request, q.format)) {
        const text =
          csvLine(OUTCOME_COLUMNS) + rows.map((r) => csvLine(OUTCOME_COLUMNS.map((c) => r[c]))).join('');
        return reply.type('text/csv; charset=utf-8').send(text);
      }
      return reply.type('application/json; charset=utf-8').send({ outcomes: rows, nextCursor });
    },
  );

  app.get(
    '/v1/labels',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['outcomes'],
        summary: 'Labels for training: one row per closed signal (JSON lines, or CSV)',
        description:
          'Each closed signal of the tenant (optionally of one model and version) with its meta, confidence, outcome, barrierLabel (+1 TP_HIT, -1 SL_HIT, 0 TIME_EXIT, MANUAL_EXIT or ROI_EXIT, null when never filled), signLabel (sign of netReturn), rMultiple, netReturn, mfe, mae and holdingMs; streamed in (closedAt, signalId) order.',
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...TENANT_QUERY,
            model: { type: 'string' },
            modelVersion: { type: 'string' },
            format: {
              enum: ['jsonl', 'csv'],
              description: 'Overrides Accept (text/csv or application/x-ndjson).',
            },
          },
        },
        response: responses({
          200: {
            description: 'Label rows',
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
        }),
      },
    },
    async (request, reply) => {
      const q = request.query as Record<string, string | undefined>;
      const rows = readLabels(deps.pool, {
        tenant: tenantScope(request.principal!, q.tenant),
        ...(q.model === undefined ? {} : { model: q.model }),
        ...(q.modelVersion === undefined ? {} : { modelVersion: q.modelVersion }),
      });
      const csv =
        q.format === undefined
          ? preferredType(request.headers.accept, ['application/x-ndjson', 'text/csv']) === 'text/csv'
          : q.format === 'csv';
      return reply
        .type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .send(Readable.from(labelText(rows, csv)));
    },
  );
}

/** Label rows as the text of their format: JSON lines, or CSV with a header line. */
export async function* labelText(rows: AsyncIterable<LabelRow>, csv: boolean): AsyncGenerator<string> {
  if (csv) yield csvLine(LABEL_COLUMNS);
  for await (const row of rows)
    yield csv ? csvLine(LABEL_COLUMNS.map((c) => row[c])) : JSON.stringify(row) + '\n';
}
