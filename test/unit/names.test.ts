import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/storage/migrate.ts';
import {
  AUDIT_EVENTS,
  OUTBOX_KEYS,
  outboxLedgerKey,
  QUEUE_NAMES,
  queueNameOn,
  ShardKeys,
  SIGNAL_BUCKETS,
  signalBucketOf,
} from '../../src/names.ts';

/** The event list of the latest migration that (re)defines `audit_logs_event_check`, in its Up part. */
function auditEventsOfMigrations(): string[] {
  let latest: string[] = [];
  for (const file of readdirSync(MIGRATIONS_DIR).sort()) {
    const up = readFileSync(`${MIGRATIONS_DIR}/${file}`, 'utf8').split('-- Down Migration')[0]!;
    const defs = [
      ...up.matchAll(/(?:audit_logs_event_check CHECK|event\s+text NOT NULL CHECK) \(event IN \(([^)]*)\)/g),
    ];
    const last = defs.at(-1);
    if (last) latest = [...last[1]!.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]!);
  }
  return latest;
}

describe('names', () => {
  it('lists exactly the audit events the migrations allow', () => {
    const allowed = auditEventsOfMigrations();
    expect(allowed.length).toBeGreaterThan(0);
    expect([...AUDIT_EVENTS].sort()).toEqual(allowed.sort());
  });

  it("files a signal's record in a bucket its id alone decides, the same in every version", () => {
    // A stored format: a record written by one version is read where the next one looks.
    expect(['s:1', 'r123456', 'sig-0001', 'ÅÆ-ü'].map(signalBucketOf)).toEqual([27, 58, 26, 35]);
    const keys = new ShardKeys('bull', 3);
    expect(keys.signalBuckets).toHaveLength(SIGNAL_BUCKETS);
    expect(new Set(keys.signalBuckets).size).toBe(SIGNAL_BUCKETS);
    expect(keys.signalBuckets).not.toContain(keys.signals);
    expect(keys.bucketOf('s:1')).toBe(keys.signalBuckets[27]);
  });

  it('keeps every key of a shard in its hash tag (one Redis Cluster slot)', () => {
    const keys = new ShardKeys('bull', 3);
    const recent = [keys.recentTicks('IBM'), keys.recentList('IBM')];
    const stacks = [keys.extremaStack('IBM', 0, 'max'), keys.extremaStack('IBM', 3, 'min')];
    for (const key of [
      keys.signals,
      ...keys.signalBuckets,
      keys.bucketOf('s:1'),
      keys.ids,
      keys.books,
      keys.bookSeqs,
      keys.outbox,
      keys.progress,
      ...recent,
      ...stacks,
    ])
      expect(key.startsWith('bull:{ticks-3}:'), key).toBe(true);
    expect(outboxLedgerKey(3, OUTBOX_KEYS.op('17'), 'abc')).toBe('{ticks-3}|op:17|abc');
    expect(OUTBOX_KEYS.closed('s:1')).toBe('closed:s:1');
  });

  it('keeps the public queue names on one Redis and gives each queue a tag of its own on a cluster', () => {
    for (const name of Object.values(QUEUE_NAMES)) {
      expect(queueNameOn(name, false)).toBe(name);
      expect(queueNameOn(name, true)).toBe(`{${name}}`);
    }
    expect(queueNameOn(QUEUE_NAMES.trackSignal, false)).toBe('track-signal');
  });
});
