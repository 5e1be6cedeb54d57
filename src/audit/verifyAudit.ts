import { findAuditRetentionHorizon } from '../storage/findAuditRetentionHorizon.ts';
import { findReportAnchorMismatch } from '../storage/findReportAnchorMismatch.ts';
import { findUnchainedAuditRow } from '../storage/findUnchainedAuditRow.ts';
import { listAuditChainHeads } from '../storage/listAuditChainHeads.ts';
import { pageAuditChain, type AuditChainCursor } from '../storage/pageAuditChain.ts';
import type { Queryable } from '../storage/Queryable.ts';
import { AuditChainChecker, type AuditProblem, type ChainSummary } from './AuditChainChecker.ts';

export interface VerifyAuditOptions {
  db: Queryable;
  /** One tenant's chain (null: the chain of rows without a tenant); every chain when left out. */
  tenant?: string | null;
  /** Rows read per round trip. @defaultValue 5000 */
  pageSize?: number;
}

export interface VerifyAuditResult {
  /** The chains that verified. */
  chains: ChainSummary[];
  /**
   * The first problem of each chain that did not, then a report anchor the chain no longer
   * matches, then any row outside every chain.
   */
  problems: AuditProblem[];
  /** Retention horizon used (findAuditRetentionHorizon), epoch microseconds; null: none. */
  horizonUs: number | null;
}

/**
 * Walks every tenant's audit chain (or one), a page at a time, recomputing each row's hash
 * (AuditChainChecker), then checks the heads the daily regulatory reports recorded, and looks
 * for rows outside every chain. Reads only; memory does not grow with the table.
 */
export async function verifyAudit(options: VerifyAuditOptions): Promise<VerifyAuditResult> {
  const { db, pageSize = 5000 } = options;
  const horizonUs = await findAuditRetentionHorizon(db);
  const heads = await listAuditChainHeads(
    db,
    options.tenant === undefined ? undefined : { tenant: options.tenant },
  );
  const result: VerifyAuditResult = { chains: [], problems: [], horizonUs };
  for (const head of heads) {
    const checker = new AuditChainChecker(head.tenant, horizonUs);
    let after: AuditChainCursor | null = null;
    for (;;) {
      const rows = await pageAuditChain(db, head.tenant, after, pageSize);
      for (const row of rows) if (checker.push(row)) break;
      if (checker.problem || rows.length < pageSize) break;
      const last = rows[rows.length - 1]!;
      after = { chainSeq: last.chainSeq, id: last.id, atUs: last.atUs };
    }
    const problem = checker.end(head);
    if (problem) result.problems.push(problem);
    else result.chains.push(checker.summary(head));
  }
  // A chain can be rewritten consistently, hashes and head included; the daily reports recorded
  // its head each day, so such a rewrite still shows against them (unless they were rewritten too:
  // keep exported copies).
  const anchor = await findReportAnchorMismatch(db, options.tenant);
  if (anchor && !result.problems.some((p) => p.tenant === anchor.tenant)) {
    result.problems.push({
      kind: 'anchor',
      tenant: anchor.tenant,
      id: anchor.id,
      atUs: anchor.atUs,
      chainSeq: anchor.headSeq,
      message:
        `row id ${anchor.id} has hash ${anchor.rowHash ?? '(none)'}, but the regulatory report of ${anchor.day} ` +
        `recorded ${anchor.reportedHash} at this position: the chain was rewritten after that day`,
    });
  }
  const stray = await findUnchainedAuditRow(db, options.tenant);
  if (stray) {
    result.problems.push({
      kind: 'unchained',
      tenant: stray.tenant,
      id: stray.id,
      atUs: stray.atUs,
      chainSeq: null,
      message:
        stray.reason === 'no_chain_columns'
          ? `row id ${stray.id} has no chain position or hash (written with the chain trigger off)`
          : `row id ${stray.id} belongs to no chain: its tenant has no audit_chain_heads row (written with the chain trigger off)`,
    });
  }
  return result;
}
