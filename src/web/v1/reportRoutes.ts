import type { FastifyInstance } from 'fastify';
import { reportCsvLine, REPORT_CSV_COLUMNS } from '../../reports/reportText.ts';
import { csvLine } from '../../csv/csvLine.ts';
import { pageRegulatoryReports, type ReportCursor } from '../../storage/pageRegulatoryReports.ts';
import { HttpError } from '../httpErrors.ts';
import { tenantScope } from '../tenantScope.ts';
import type { ApiDeps } from './ApiDeps.ts';
import { responses, secured, TENANT_QUERY } from './apiSchemas.ts';
import { preferredType } from './preferredType.ts';
import { isQueryTime } from './timeBounds.ts';

const COUNTS = { type: 'object', additionalProperties: { type: 'integer' } };

/** One daily regulatory report (docs/STORAGE.md "regulatory_reports"). */
export const REPORT_SCHEMA = {
  type: 'object',
  required: [
    'tenant',
    'day',
    'signalsReceived',
    'signalsAccepted',
    'signalsRejected',
    'rejectedByCode',
    'closed',
    'closedByOutcome',
    'auditRows',
    'auditHeadSeq',
    'auditHeadHash',
    'generatedAt',
  ],
  properties: {
    tenant: { type: 'string' },
    day: { type: 'string', format: 'date', description: 'UTC day.' },
    signalsReceived: { type: 'integer', description: 'Submissions recorded during the day.' },
    signalsAccepted: { type: 'integer' },
    signalsRejected: { type: 'integer' },
    rejectedByCode: { ...COUNTS, description: 'Rejected submissions per error code (docs/ERRORS.md).' },
    closed: { type: 'integer', description: 'Outcomes recorded during the day.' },
    closedByOutcome: { ...COUNTS, description: 'Outcomes per outcome code.' },
    auditRows: { type: 'integer' },
    auditHeadSeq: {
      type: ['integer', 'null'],
      description: "Position of the tenant's audit chain at the day's end.",
    },
    auditHeadHash: { type: ['string', 'null'], description: 'Its hash (verify-audit).' },
    generatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const DAY = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' };

function dayParam(name: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  const date = new Date(`${value}T00:00:00Z`);
  if (!isQueryTime(date.getTime()) || date.toISOString().slice(0, 10) !== value) {
    const message = `querystring.${name}: ${JSON.stringify(value)} is not a day (YYYY-MM-DD, years 0001 to 9999)`;
    throw new HttpError('VALIDATION_FAILED', message, [{ code: 'PAYLOAD_SCHEMA', message }]);
  }
  return value;
}

function encodeReportCursor(c: ReportCursor): string {
  return Buffer.from(JSON.stringify([c.day, c.tenant]), 'utf8').toString('base64url');
}

function decodeReportCursor(cursor: string): ReportCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
    )
      return { day: dayParam('cursor', value[0])!, tenant: value[1] };
  } catch {
    // falls through to the refusal
  }
  const message = 'querystring.cursor: not a cursor this API gave';
  throw new HttpError('VALIDATION_FAILED', message, [{ code: 'PAYLOAD_SCHEMA', message }]);
}

/** `GET /v1/reports`: the daily regulatory reports of the key's tenant (docs/API.md). */
export function reportRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    '/v1/reports',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['compliance'],
        summary: 'Daily regulatory reports, a page at a time (JSON, or CSV with Accept: text/csv)',
        description:
          'One per tenant and UTC day, written by the scheduler once the day is over (docs/OPERATIONS.md "Regulatory reports"); ordered by (day, tenant). Pass `nextCursor` (also in the `Next-Cursor` header) as `cursor` for the next page; null when there is none.',
        ...secured('read'),
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...TENANT_QUERY,
            from: { ...DAY, description: 'First day, inclusive.' },
            to: { ...DAY, description: 'Last day, inclusive.' },
            cursor: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            format: { enum: ['json', 'csv'], description: 'Overrides Accept.' },
          },
        },
        response: responses({
          200: {
            description: 'A page of reports; `text/csv` has a header line and these columns.',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['reports', 'nextCursor'],
                  properties: {
                    reports: { type: 'array', items: REPORT_SCHEMA },
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
      const rows = await pageRegulatoryReports(
        deps.pool,
        {
          tenant: tenantScope(request.principal!, q.tenant),
          from: dayParam('from', q.from),
          to: dayParam('to', q.to),
        },
        q.cursor === undefined ? null : decodeReportCursor(q.cursor),
        q.limit,
      );
      const last = rows.at(-1);
      const nextCursor =
        rows.length === q.limit && last ? encodeReportCursor({ day: last.day, tenant: last.tenant }) : null;
      if (nextCursor !== null) reply.header('next-cursor', nextCursor);
      const csv =
        q.format === undefined
          ? preferredType(request.headers.accept, ['application/json', 'text/csv']) === 'text/csv'
          : q.format === 'csv';
      if (csv)
        return reply
          .type('text/csv; charset=utf-8')
          .send(csvLine(REPORT_CSV_COLUMNS) + rows.map(reportCsvLine).join(''));
      return reply.type('application/json; charset=utf-8').send({ reports: rows, nextCursor });
    },
  );
}
