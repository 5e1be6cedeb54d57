import { createHash } from 'node:crypto';
import type { AuditChainRow } from '../storage/pageAuditChain.ts';
import type { AuditChainHead } from '../storage/listAuditChainHeads.ts';

/** The prev_hash of the first row of every chain (migrations/1764000000008_audit-chain.sql). */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * What is wrong with a chain, as stable codes (docs/OPERATIONS.md "Verifying the audit log"):
 * - `changed`: the row's content no longer matches its hash.
 * - `relinked`: the row's prev_hash is not its predecessor's hash (the predecessor was changed
 *   and re-hashed, or this row's prev_hash was edited).
 * - `removed`: chain positions are missing and retention cannot have dropped them.
 * - `inserted`: a second row at one chain position.
 * - `unchained`: a row without chain columns, or of a tenant without a chain head (written with
 *   the chain trigger disabled).
 * - `head`: the chain ends elsewhere than audit_chain_heads says (rows removed or added at the end).
 * - `anchor`: a daily regulatory report recorded another hash at that position: the chain was
 *   rewritten, consistently, after the report.
 */
export type AuditProblemKind =
  'changed' | 'relinked' | 'removed' | 'inserted' | 'unchained' | 'head' | 'anchor';

/** The first thing wrong with one chain, naming the row where the chain breaks. */
export interface AuditProblem {
  kind: AuditProblemKind;
  tenant: string | null;
  /** The row's id (null when the problem is the chain's end with no row to name). */
  id: string | null;
  /** The row's `at`, epoch microseconds. */
  atUs: number | null;
  /** The chain position the problem is at. */
  chainSeq: number | null;
  message: string;
}

/** Where a verified chain starts, when retention dropped its beginning. */
export interface ChainStart {
  chainSeq: number;
  prevHash: string;
}

/** A chain that verified. */
export interface ChainSummary {
  tenant: string | null;
  rows: number;
  /** First surviving position and the prev_hash the chain was taken from; seq 1 and genesis when nothing was dropped. */
  start: ChainStart | null;
  /** Positions missing in the middle or at the end that retention dropped. */
  droppedByRetention: number;
  headSeq: number;
  headHash: string;
}

/** hex(sha256(prevHash ‖ canonical)), as the chain trigger computes it in SQL. */
export function chainHash(prevHash: string, canonical: string): string {
  return createHash('sha256')
    .update(prevHash + canonical, 'utf8')
    .digest('hex');
}

/**
 * Checks one tenant's chain, fed its rows in chain order (pure: no I/O, no clock). Stops at
 * the first problem: {@link push} and {@link end} return it, and every later call returns it
 * again.
 *
 * A gap in chain positions is accepted only as retention: when the retention horizon is known
 * and the row after the gap says its predecessor's `at` (prev_at, covered by that row's hash)
 * was before it. Dropped chunks hold only rows older than every surviving chunk, so a deleted
 * row that was still inside a surviving chunk is never taken for retention.
 */
export class AuditChainChecker {
  readonly #tenant: string | null;
  readonly #horizonUs: number | null;
  #next = 1;
  #prevHash = GENESIS_HASH;
  #prevId: string | null = null;
  #rows = 0;
  #start: ChainStart | null = null;
  #dropped = 0;
  #problem: AuditProblem | null = null;

  /**
   * @param horizonUs epoch microseconds before which retention may have dropped rows
   *   (findAuditRetentionHorizon); null: nothing can have been dropped.
   */
  constructor(tenant: string | null, horizonUs: number | null) {
    this.#tenant = tenant;
    this.#horizonUs = horizonUs;
  }

  get problem(): AuditProblem | null {
    return this.#problem;
  }

  /** Checks the next row of the chain. */
  push(row: AuditChainRow): AuditProblem | null {
    if (this.#problem) return this.#problem;
    const at = { id: row.id, atUs: row.atUs, chainSeq: row.chainSeq };
    if (row.prevHash === null || row.rowHash === null)
      return this.#fail(
        'unchained',
        at,
        'has a chain position but no hash (written with the chain trigger off)',
      );
    if (row.chainSeq < this.#next)
      return this.#fail(
        'inserted',
        at,
        `is a second row at chain position ${row.chainSeq} (after id ${this.#prevId ?? '?'}): inserted`,
      );
    let linkedTo = this.#prevHash;
    if (row.chainSeq > this.#next) {
      const missing = row.chainSeq - this.#next;
      if (!this.#droppedByRetention(row.prevAtUs))
        return this.#fail(
          'removed',
          at,
          `follows a gap: chain position${missing > 1 ? `s ${this.#next}–${row.chainSeq - 1} are` : ` ${this.#next} is`} ` +
            `missing (removed; retention drops only rows older than the oldest surviving chunk)`,
        );
      if (this.#rows === 0) this.#start = { chainSeq: row.chainSeq, prevHash: row.prevHash };
      else this.#dropped += missing;
      // The rows before are gone: the chain resumes from the hash this row says they ended with.
      linkedTo = row.prevHash;
    }
    if (row.prevHash !== linkedTo)
      return this.#fail(
        'relinked',
        at,
        row.chainSeq === 1
          ? 'is the first of its chain but its prev_hash is not the genesis hash: it was edited'
          : `has a prev_hash that is not the hash of chain position ${row.chainSeq - 1}` +
              `${this.#prevId === null ? '' : ` (id ${this.#prevId})`}: that row was changed and re-hashed, or this one was edited`,
      );
    if (chainHash(row.prevHash, row.canonical) !== row.rowHash)
      return this.#fail('changed', at, 'does not match its hash: the row was changed');
    this.#next = row.chainSeq + 1;
    this.#prevHash = row.rowHash;
    this.#prevId = row.id;
    this.#rows++;
    return null;
  }

  /** Checks the chain's end against its head (undefined: the tenant has rows but no head). */
  end(head: AuditChainHead | undefined): AuditProblem | null {
    if (this.#problem) return this.#problem;
    const last = this.#next - 1;
    const none = { id: null, atUs: null, chainSeq: null };
    if (head === undefined)
      return this.#fail(
        'unchained',
        none,
        'has rows but no audit_chain_heads row (written with the chain trigger off)',
      );
    if (head.headSeq > last) {
      if (!this.#droppedByRetention(head.headAtUs))
        return this.#fail(
          'head',
          { ...none, chainSeq: last + 1 },
          `ends at chain position ${last} but its head is at ${head.headSeq}: ` +
            `position${head.headSeq - last > 1 ? `s ${last + 1}–${head.headSeq}` : ` ${head.headSeq}`} removed`,
        );
      if (this.#rows > 0) this.#dropped += head.headSeq - last;
      return null;
    }
    if (head.headSeq < last)
      return this.#fail(
        'head',
        { id: this.#prevId, atUs: null, chainSeq: last },
        `ends at chain position ${last} beyond its head (${head.headSeq}): rows added at the end with the chain trigger off`,
      );
    if (head.headHash !== this.#prevHash)
      return this.#fail(
        'head',
        { id: this.#prevId, atUs: null, chainSeq: last },
        `ends with a hash that is not its head's: the last row was changed and re-hashed`,
      );
    return null;
  }

  /** The verified chain, once {@link end} found nothing wrong. */
  summary(head: AuditChainHead): ChainSummary {
    return {
      tenant: this.#tenant,
      rows: this.#rows,
      start: this.#start,
      droppedByRetention: this.#dropped,
      headSeq: head.headSeq,
      headHash: head.headHash,
    };
  }

  #droppedByRetention(prevAtUs: number | null): boolean {
    return this.#horizonUs !== null && prevAtUs !== null && prevAtUs < this.#horizonUs;
  }

  #fail(
    kind: AuditProblemKind,
    where: { id: string | null; atUs: number | null; chainSeq: number | null },
    what: string,
  ): AuditProblem {
    const subject = where.id === null ? 'the chain' : `row id ${where.id}`;
    this.#problem = { kind, tenant: this.#tenant, ...where, message: `${subject} ${what}` };
    return this.#problem;
  }
}
