import { csvLine } from '../csv/csvLine.ts';
import type { RegulatoryReport } from '../storage/pageRegulatoryReports.ts';

/** The CSV columns of a regulatory report, in order; the two maps are JSON objects in their cells. */
export const REPORT_CSV_COLUMNS = [
  'tenant',
  'day',
  'signals_received',
  'signals_accepted',
  'signals_rejected',
  'rejected_by_code',
  'closed',
  'closed_by_outcome',
  'audit_rows',
  'audit_head_seq',
  'audit_head_hash',
  'generated_at',
] as const;

/** The CSV line of one report (csvLine: RFC 4180, CRLF). */
export function reportCsvLine(r: RegulatoryReport): string {
  return csvLine([
    r.tenant,
    r.day,
    r.signalsReceived,
    r.signalsAccepted,
    r.signalsRejected,
    r.rejectedByCode,
    r.closed,
    r.closedByOutcome,
    r.auditRows,
    r.auditHeadSeq,
    r.auditHeadHash,
    r.generatedAt,
  ]);
}

/**
 * Reports as text: CSV with a header line, or one JSON array written as it streams (`[`, one
 * report per line, `]`).
 */
export async function* reportText(
  reports: AsyncIterable<RegulatoryReport>,
  format: 'csv' | 'json',
): AsyncGenerator<string> {
  if (format === 'csv') {
    yield csvLine(REPORT_CSV_COLUMNS);
    for await (const r of reports) yield reportCsvLine(r);
    return;
  }
  let first = true;
  yield '[';
  for await (const r of reports) {
    yield `${first ? '\n' : ',\n'}${JSON.stringify(r)}`;
    first = false;
  }
  yield '\n]\n';
}
