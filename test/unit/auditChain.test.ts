import { describe, expect, it } from 'vitest';
import { AuditChainChecker, chainHash, GENESIS_HASH } from '../../src/audit/AuditChainChecker.ts';
import { addDays, daysToReport, lastCompleteDay } from '../../src/reports/reportDays.ts';
import type { AuditChainRow } from '../../src/storage/pageAuditChain.ts';

const DAY_US = 86_400_000_000;

/** A valid chain of `atsUs.length` rows for tenant t, as the trigger would write it. */
function chain(atsUs: number[]): AuditChainRow[] {
  const rows: AuditChainRow[] = [];
  let prevHash = GENESIS_HASH;
  let prevAtUs: number | null = null;
  atsUs.forEach((atUs, i) => {
    const canonical = JSON.stringify([i + 1, i + 10, atUs, 'row', i]);
    const rowHash = chainHash(prevHash, canonical);
    rows.push({
      id: String(i + 10),
      atUs,
      tenant: 't',
      chainSeq: i + 1,
      prevAtUs,
      prevHash,
      rowHash,
      canonical,
    });
    prevHash = rowHash;
    prevAtUs = atUs;
  });
  return rows;
}

function check(rows: AuditChainRow[], horizonUs: number | null, head = headOf(chain(rows.map(() => 0)))) {
  const checker = new AuditChainChecker('t', horizonUs);
  for (const row of rows) checker.push(row);
  return { problem: checker.end(head), checker };
}

function headOf(rows: AuditChainRow[]) {
  const last = rows[rows.length - 1]!;
  return { tenant: 't', headSeq: last.chainSeq, headHash: last.rowHash!, headAtUs: last.atUs };
}

describe('AuditChainChecker', () => {
  const rows = chain([1, 2, 3, 4, 5].map((d) => d * DAY_US));
  const head = headOf(rows);

  it('accepts an intact chain and sums it up', () => {
    const { problem, checker } = check(rows, null, head);
    expect(problem).toBeNull();
    expect(checker.summary(head)).toEqual({
      tenant: 't',
      rows: 5,
      start: null,
      droppedByRetention: 0,
      headSeq: 5,
      headHash: head.headHash,
    });
  });

  it('names a changed row, and the row after one that was changed and re-hashed', () => {
    const changed = rows.map((r) => (r.chainSeq === 2 ? { ...r, canonical: r.canonical + ' ' } : r));
    expect(check(changed, null, head).problem).toMatchObject({ kind: 'changed', id: '11', chainSeq: 2 });
    const rehashed = changed.map((r) =>
      r.chainSeq === 2 ? { ...r, rowHash: chainHash(r.prevHash!, r.canonical) } : r,
    );
    expect(check(rehashed, null, head).problem).toMatchObject({ kind: 'relinked', id: '12', chainSeq: 3 });
  });

  it('takes missing positions for retention only when the row after them says they were older than the horizon', () => {
    const withoutThird = rows.filter((r) => r.chainSeq !== 3);
    // Row 3 was at day 3: a horizon at day 3 (its chunk survives) makes its absence a deletion…
    expect(check(withoutThird, 3 * DAY_US, head).problem).toMatchObject({
      kind: 'removed',
      id: '13',
      chainSeq: 4,
    });
    expect(check(withoutThird, null, head).problem).toMatchObject({ kind: 'removed' });
    // …a horizon after it makes it a dropped chunk.
    const { problem, checker } = check(withoutThird, 3 * DAY_US + 1, head);
    expect(problem).toBeNull();
    expect(checker.summary(head)).toMatchObject({ rows: 4, start: null, droppedByRetention: 1 });

    const fromThird = rows.filter((r) => r.chainSeq >= 3);
    const started = check(fromThird, 2 * DAY_US + 1, head);
    expect(started.problem).toBeNull();
    expect(started.checker.summary(head).start).toEqual({ chainSeq: 3, prevHash: rows[1]!.rowHash });
  });

  it('names a second row at a position as inserted, and a chain that ends before or after its head', () => {
    const forged = { ...rows[2]!, id: '99' };
    const withForged = [...rows.slice(0, 3), forged, ...rows.slice(3)];
    expect(check(withForged, null, head).problem).toMatchObject({ kind: 'inserted', id: '99', chainSeq: 3 });
    expect(check(rows.slice(0, 4), null, head).problem).toMatchObject({ kind: 'head', chainSeq: 5 });
    expect(check(rows.slice(0, 4), 5 * DAY_US + 1, head).problem).toBeNull(); // the last row's chunk was dropped
    expect(check(rows, null, { ...head, headSeq: 4 }).problem).toMatchObject({ kind: 'head', chainSeq: 5 });
    expect(check(rows, null, { ...head, headHash: GENESIS_HASH }).problem).toMatchObject({ kind: 'head' });
    const headless = new AuditChainChecker('t', null);
    for (const row of rows) headless.push(row);
    expect(headless.end(undefined)).toMatchObject({ kind: 'unchained' });
  });
});

describe('report days', () => {
  it('counts a UTC day as over ten minutes after midnight', () => {
    expect(lastCompleteDay(Date.parse('2026-12-02T00:09:59Z'))).toBe('2026-11-30');
    expect(lastCompleteDay(Date.parse('2026-12-02T00:10:00Z'))).toBe('2026-12-01');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
  });

  it('reports from the day after the last report (or the first day) up to the last complete day, capped', () => {
    expect(daysToReport('2026-11-01', null, '2026-11-03')).toEqual({ from: '2026-11-01', to: '2026-11-03' });
    expect(daysToReport('2026-11-01', '2026-11-02', '2026-11-03')).toEqual({
      from: '2026-11-03',
      to: '2026-11-03',
    });
    expect(daysToReport('2026-11-01', '2026-11-03', '2026-11-03')).toBeNull();
    expect(daysToReport('2026-12-02', null, '2026-12-01')).toBeNull();
    expect(daysToReport('2020-01-01', null, '2026-12-01', 10)).toEqual({
      from: '2020-01-01',
      to: '2020-01-10',
    });
  });
});
