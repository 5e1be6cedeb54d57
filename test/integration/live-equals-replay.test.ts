/**
 * DESIGN.md decision 10 and SPEC.md: the live pipeline (intake → shard queues → shard workers →
 * Redis checkpoints and outbox → flusher → PostgreSQL) gives exactly the outcomes `replay` gives
 * for the same signals,
 * ticks and operations, including signals that arrive after newer ticks were applied (caught
 * up from the recent-tick buffer) and operations sent through `signal-ops` in time order.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SignalPayload, Tick } from '../../machines/types.ts';
import { exportCommand, exportLines } from '../../src/cli/exportCommand.ts';
import { captureIo } from '../support/captureIo.ts';
import { generateSignals, spreadAnchors } from '../../src/demo/generateSignals.ts';
import { operationsAt } from '../support/operationsAt.ts';
import type { Cluster } from 'ioredis';
import { QUEUE_NAMES, queueNameOn, ShardKeys, shardOf, shardQueueName } from '../../src/names.ts';
import { replay } from '../../src/replay/replay.ts';
import { readDataTicks } from '../support/dataFile.ts';
import {
  createPipelineClient,
  startInProcessWorkers,
  type PipelineClient,
  type PipelineConfig,
} from '../support/livePipeline.ts';
import { describeDifference } from '../support/sameOutcomes.ts';
import {
  redisClusterNodes,
  redisUrl,
  scanKeys,
  useRedisNamespace,
  useResourceTracker,
  useTestDatabase,
} from '../support/services.ts';

const tracker = useResourceTracker();

let ibm: Tick[] = [];
let binance: Tick[] = [];
beforeAll(async () => {
  // Five trading days of IBM trades, and every BTCUSDT/ETHUSDT trade of the file.
  ibm = await readDataTicks('lean_usequity_IBM_trades_2013-10-07_11.csv.gz');
  binance = await readDataTicks('binance_spot_BTCUSDT_ETHUSDT_trades_2024-08-08.csv.gz');
});

/**
 * Where the pipeline runs: the test Redis, and a local Redis Cluster of three masters
 * (scripts/services.sh cluster-start, started by npm test), where every script, MULTI and BullMQ
 * command must keep to one hash slot.
 */
const TARGETS = [
  { target: 'a single Redis', cluster: false },
  { target: 'a Redis Cluster of three masters', cluster: true },
];

/** A config of this test's own namespace and database, on a single Redis or the test cluster. */
function configOn(
  cluster: boolean,
  prefix: string,
  databaseUrl: string,
  overrides: Partial<PipelineConfig> = {},
): PipelineConfig {
  return {
    redisUrl: redisUrl(),
    ...(cluster && { clusterNodes: redisClusterNodes() }),
    databaseUrl,
    prefix,
    shards: 4,
    flusher: true,
    ...overrides,
  };
}

let stopWorkers: (() => Promise<void>) | undefined;
let closeClient: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopWorkers?.();
  await closeClient?.();
  stopWorkers = closeClient = undefined;
});

/** In-process workers and a client on `cfg`, closed after the test. */
async function start(cfg: PipelineConfig): Promise<PipelineClient> {
  const workers = tracker.track(await startInProcessWorkers(cfg), 'in-process workers');
  stopWorkers = () => workers.close();
  const client = tracker.track(createPipelineClient(cfg), 'pipeline client');
  closeClient = () => client.close();
  return client;
}

interface AuditRow {
  signal_id: string | null;
  event: string;
  details: { op?: unknown; errors?: string[]; codes?: string[]; [key: string]: unknown };
}

/** The audit log, in id order. */
async function auditEvents(live: PipelineClient): Promise<AuditRow[]> {
  return (await live.db.query<AuditRow>('SELECT signal_id, event, details FROM audit_logs ORDER BY id')).rows;
}

function describeOp(op: unknown): string {
  const o = op as { op: string; id: string; ts: number };
  return `${o.op} ${o.id} @${o.ts}`;
}

describe.each(TARGETS)('live pipeline equals replay on $target', ({ cluster }) => {
  const ns = useRedisNamespace(undefined, { cluster });
  // A database per target: both submit the same signal ids.
  const db = useTestDatabase();
  const config = (overrides: Partial<PipelineConfig> = {}): PipelineConfig =>
    configOn(cluster, ns.prefix, db.url, overrides);

  it('gives replay outcomes for early and late signals over IBM, BTCUSDT and ETHUSDT ticks, with operations', async () => {
    const cfg = config();
    // Three symbols on two shards of four: BTCUSDT and ETHUSDT share one, IBM has its own.
    expect(new Set(['IBM', 'BTCUSDT', 'ETHUSDT'].map((s) => shardOf(s, cfg.shards))).size).toBe(2);
    const live = await start(cfg);

    const signals = [
      ...generateSignals(spreadAnchors(ibm, 150), { count: 150, seed: 11, prefix: 'ibm' }),
      ...generateSignals(spreadAnchors(binance, 150), { count: 150, seed: 12, prefix: 'bin' }),
    ];
    // Each tick list is cut at a time of its own: phase A is everything up to it.
    const cutIbm = ibm[Math.floor(ibm.length * 0.6)]!.ts;
    const cutBin = binance[Math.floor(binance.length * 0.6)]!.ts;
    const cutOf = (s: SignalPayload): number => (s.symbol === 'IBM' ? cutIbm : cutBin);
    const ticksA = [...ibm.filter((t) => t.ts <= cutIbm), ...binance.filter((t) => t.ts <= cutBin)];
    const ticksB = [...ibm.filter((t) => t.ts > cutIbm), ...binance.filter((t) => t.ts > cutBin)];

    // Every third signal created before the cut arrives only after phase A was applied: late.
    const late = signals.filter((s, i) => s.createdAt <= cutOf(s) && i % 3 === 0);
    const lateIds = new Set(late.map((s) => s.id));
    const early = signals.filter((s) => !lateIds.has(s.id));
    expect(late.length).toBeGreaterThan(50);

    // Operations in time order: some at each cut (after phase A), some after the last tick.
    const lastIbm = ibm[ibm.length - 1]!.ts;
    const lastBin = binance[binance.length - 1]!.ts;
    const opsAtCut = [
      ...operationsAt(
        signals.filter((s) => s.symbol === 'IBM'),
        cutIbm,
        21,
      ),
      ...operationsAt(
        signals.filter((s) => s.symbol !== 'IBM'),
        cutBin,
        22,
      ),
    ];
    const opsAtEnd = [
      ...operationsAt(
        signals.filter((s) => s.symbol === 'IBM'),
        lastIbm + 1000,
        23,
      ),
      ...operationsAt(
        signals.filter((s) => s.symbol !== 'IBM'),
        lastBin + 1000,
        24,
      ),
    ];
    expect(opsAtCut.length).toBeGreaterThan(10);

    await live.submitSignals(early);
    await live.waitUntilDrained();
    await live.publishTicks(ticksA);
    await live.waitUntilDrained();
    // Half of them reach the workers that applied phase A (recent ticks in memory), half reach
    // fresh workers that restore the shards from Redis (recent ticks from the Redis buffer).
    await live.submitSignals(late.filter((_, k) => k % 2 === 0));
    await live.waitUntilDrained();
    await stopWorkers!();
    const restarted = tracker.track(await startInProcessWorkers(cfg), 'restarted workers');
    stopWorkers = () => restarted.close();
    await live.submitSignals(late.filter((_, k) => k % 2 === 1));
    await live.waitUntilDrained();
    await live.submitOps(opsAtCut);
    await live.waitUntilDrained();
    await live.publishTicks(ticksB);
    await live.waitUntilDrained();
    await live.submitOps(opsAtEnd);
    await live.waitUntilDrained();

    expect(await live.failedShardJobs()).toEqual([]);
    expect(await live.poisonEntries()).toEqual([]);

    const expected = await replay({
      signals,
      ticks: [...ibm, ...binance],
      ops: [...opsAtCut, ...opsAtEnd],
    });
    expect(expected.rejectedSignals).toBe(0);
    const ids = signals.map((s) => s.id);
    const actual = await live.collectOutcomes(ids);
    expect(describeDifference(actual, expected.lines)).toBeNull();
    // So is the export command's view of them (PostgreSQL, outboxes and checkpoints).
    const exported = new Map<string | null, unknown>();
    for await (const line of exportLines({ redis: live.redis, db: live.db, prefix: ns.prefix, shards: 4 }))
      exported.set(line.id, line);
    expect(
      describeDifference(
        ids.map((id) => exported.get(id)),
        expected.lines,
      ),
    ).toBeNull();
    // The comparison covers what it should: late signals that had filled before they arrived,
    // and every kind of ending.
    const lineOf = new Map(expected.lines.map((l) => [l.id, l]));
    const caughtUp = late.filter((s) => {
      const fill = (lineOf.get(s.id) as { fill?: { ts: number } }).fill;
      return fill !== undefined && fill.ts <= cutOf(s);
    });
    expect(caughtUp.length).toBeGreaterThan(10);
    const endings = new Set(expected.lines.map((l) => ('outcome' in l ? l.outcome : l.state)));
    for (const e of [
      'TP_HIT',
      'SL_HIT',
      'TIME_EXIT',
      'EXPIRED',
      'CANCELLED',
      'MANUAL_EXIT',
      'open',
      'pending',
    ])
      expect(endings).toContain(e);

    // Late signals were caught up, not cut short: none reported a gap in the buffer.
    const audit = await auditEvents(live);
    expect(audit.filter((a) => a.event === 'catchup_gap')).toEqual([]);

    // The operations replay rejected are the ones stored as rejected, and no others, each with
    // the same codes and messages.
    const liveRejected = audit
      .filter((a) => a.event === 'op_rejected')
      .map((a) => describeOp(a.details.op))
      .sort();
    const liveReasons = audit
      .filter((a) => a.event === 'op_rejected')
      .map((a) => {
        const reasons = a.details.errors!.map((message, k) => ({ code: a.details.codes?.[k], message }));
        return `${describeOp(a.details.op)}: ${JSON.stringify(reasons)}`;
      })
      .sort();
    const replayReasons = expected.rejectedOps
      .map((r) => `${describeOp(r.op)}: ${JSON.stringify(r.errors)}`)
      .sort();
    expect(liveReasons).toEqual(replayReasons);
    const liveApplied = audit.filter((a) => ['amended', 'cancelled', 'exited'].includes(a.event)).length;
    const replayRejected = expected.rejectedOps.map((r) => describeOp(r.op)).sort();
    expect(liveRejected).toEqual(replayRejected);
    expect(liveApplied + liveRejected.length).toBe(opsAtCut.length + opsAtEnd.length);
    expect(liveApplied).toBeGreaterThan(0);
  });

  it('tracks a signal submitted twice with the same id once, as first accepted', async () => {
    const live = await start(config());
    const ticks = ibm.slice(0, 3000);
    const [first, other] = generateSignals(spreadAnchors(ticks.slice(0, 500), 10), {
      count: 2,
      seed: 5,
      prefix: 'dup',
    });
    // Same id, another (valid) payload: a different side, levels, entry.
    const second = { ...other!, id: first!.id };
    expect(JSON.stringify(second)).not.toBe(JSON.stringify(first));

    const [firstJob] = await live.submitSignals([first]);
    await live.waitUntilDrained();
    const [secondJob] = await live.submitSignals([second]);
    await live.waitUntilDrained();
    await live.publishTicks(ticks);
    await live.waitUntilDrained();

    expect((await live.trackSignal.getJob(firstJob!.id!))?.returnvalue).toMatchObject({ duplicate: false });
    expect((await live.trackSignal.getJob(secondJob!.id!))?.returnvalue).toMatchObject({ duplicate: true });

    const expected = await replay({ signals: [first], ticks });
    expect(describeDifference(await live.collectOutcomes([first!.id]), expected.lines)).toBeNull();

    const client = await tracker.client(db.url);
    try {
      const { rows } = await client.query<{ status: string; payload: unknown; errors: string[] | null }>(
        'SELECT status, payload, errors FROM signals WHERE id = $1 ORDER BY seq',
        [first!.id],
      );
      // The first payload is the one tracked; the second is kept, as rejected, with the reason.
      expect(rows).toEqual([
        { status: 'accepted', payload: first, errors: null },
        { status: 'rejected', payload: second, errors: [expect.stringMatching(/was already accepted/)] },
      ]);
    } finally {
      await client.end();
    }
  });

  it('reports a late signal whose ticks already left a tiny recent-tick buffer as a catch-up gap', async () => {
    const cfg = config({ bufferSize: 5 });
    let live = await start(cfg);
    const ticks = ibm.slice(0, 60);
    await live.publishTicks(ticks);
    await live.waitUntilDrained();

    const base = (id: string, createdAt: number): SignalPayload => ({
      v: 1,
      id,
      symbol: 'IBM',
      side: 'long',
      createdAt,
      entry: { type: 'market' },
    });
    // Created at the first tick: 55 of the ticks it should have seen are gone. Created at the
    // last tick: the buffer still holds everything after it.
    const gone = base('gap-warm', ticks[0]!.ts);
    const covered = base('covered-warm', ticks[ticks.length - 1]!.ts);
    await live.submitSignals([gone, covered]);
    await live.waitUntilDrained();

    // The same from a worker that restored the shard from Redis (its buffer is what Redis kept).
    await stopWorkers!();
    await closeClient!();
    live = await start(cfg);
    const goneCold = base('gap-cold', ticks[1]!.ts);
    await live.submitSignals([goneCold]);
    await live.waitUntilDrained();

    // Reported in the audit log, through the outbox and the flusher.
    const gaps = (await auditEvents(live))
      .filter((a) => a.event === 'catchup_gap')
      .map((a) => ({ id: a.signal_id, ...(a.details as { createdAt: number; missedUpTo: number }) }));
    expect(gaps.map((g) => g.id).sort()).toEqual(['gap-cold', 'gap-warm']);
    const lastTs = ticks[ticks.length - 1]!.ts;
    for (const g of gaps) {
      const createdAt = g.id === 'gap-warm' ? gone.createdAt : goneCold.createdAt;
      expect(g).toMatchObject({ symbol: 'IBM', createdAt });
      expect(g.missedUpTo).toBeGreaterThanOrEqual(createdAt);
      expect(g.missedUpTo).toBeLessThanOrEqual(lastTs);
    }
    // The covered signal is exactly what replay makes of it.
    const expected = await replay({ signals: [covered], ticks });
    expect(describeDifference(await live.collectOutcomes([covered.id]), expected.lines)).toBeNull();
    // A signal with a gap is still tracked, from the ticks the buffer still had.
    const [warm, cold] = (await live.collectOutcomes(['gap-warm', 'gap-cold'])) as { state?: string }[];
    expect(warm?.state).toBeDefined();
    expect(cold?.state).toBeDefined();
  });

  it('applies an operation submitted right after its signal, as replay does', async () => {
    const live = await start(config());
    const T = ibm[0]!.ts;
    // Upstream sends each signal, then an operation on it, in time order and in that order: an
    // exit a millisecond after creation. Nothing waits for the intake in between.
    const signals: SignalPayload[] = Array.from({ length: 400 }, (_, i) => ({
      v: 1,
      id: `quick-${i}`,
      symbol: i % 2 === 0 ? 'IBM' : 'BTCUSDT',
      side: 'long',
      createdAt: T,
      entry: { type: 'limit', price: 1 },
    }));
    const ops = signals.map((s) => ({ op: 'cancel', id: s.id, ts: T + 1 }));
    await live.submitSignals(signals);
    await live.submitOps(ops);
    await live.waitUntilDrained();

    const expected = await replay({ signals, ticks: [], ops });
    expect(expected.rejectedOps).toEqual([]);
    // Only this test's signals: the file's other tests share the database and reject on purpose.
    const ids = new Set(signals.map((s) => s.id));
    const rejected = (await auditEvents(live)).filter(
      (a) => a.event === 'op_rejected' && ids.has(a.signal_id ?? ''),
    );
    expect(
      rejected.map((a) => `${a.signal_id}: ${a.details.errors?.join('; ')}`),
      'operations rejected live that replay applies',
    ).toEqual([]);
    expect(
      describeDifference(await live.collectOutcomes(signals.map((s) => s.id)), expected.lines),
    ).toBeNull();
  });
});

describe('on a Redis Cluster', () => {
  const ns = useRedisNamespace(undefined, { cluster: true });
  const db = useTestDatabase();

  it('spreads the shards over the nodes, each shard whole on one node, and still equals replay', async () => {
    const cfg = configOn(true, ns.prefix, db.url);
    // One symbol per shard (IBM's ticks under four names), so that every shard has state.
    const symbols = Array.from({ length: cfg.shards }, (_, n) => {
      for (let i = 0; ; i++) if (shardOf(`SYM${i}`, cfg.shards) === n) return `SYM${i}`;
    });
    const base = ibm.slice(0, 4000);
    const ticks = symbols.flatMap((symbol) => base.map((t) => ({ ...t, symbol })));
    const signals = symbols.flatMap((symbol, k) =>
      generateSignals(
        spreadAnchors(
          base.slice(0, 2000).map((t) => ({ ...t, symbol })),
          20,
        ),
        { count: 20, seed: 40 + k, prefix: symbol.toLowerCase() },
      ),
    );
    const live = await start(cfg);
    await live.submitSignals(signals);
    await live.waitUntilDrained();
    await live.publishTicks(ticks);
    await live.waitUntilDrained();
    expect(await live.failedShardJobs()).toEqual([]);

    const expected = await replay({ signals, ticks });
    expect(
      describeDifference(await live.collectOutcomes(signals.map((s) => s.id)), expected.lines),
    ).toBeNull();
    // So does `outcome-tracker export` given the cluster (REDIS_CLUSTER_NODES, no REDIS_URL).
    const cli = captureIo();
    await exportCommand([], cli.io, {
      REDIS_CLUSTER_NODES: redisClusterNodes(),
      DATABASE_URL: db.url,
      QUEUE_PREFIX: ns.prefix,
      SHARDS: String(cfg.shards),
    });
    const exported = new Map(
      cli
        .stdout()
        .trim()
        .split('\n')
        .map((text) => JSON.parse(text) as { id: string })
        .map((line) => [line.id, line]),
    );
    expect(
      describeDifference(
        signals.map((s) => exported.get(s.id)),
        expected.lines,
      ),
    ).toBeNull();

    // Where the keys are: each master's own keys of this namespace (a node holds only its slots).
    const cluster = live.redis as Cluster;
    const nodeOf = new Map<string, string>();
    for (const node of cluster.nodes('master'))
      for (const key of await scanKeys(node, `${ns.prefix}:*`))
        nodeOf.set(key, `${node.options.host}:${node.options.port}`);
    const nodesOf = (tag: string): Set<string> =>
      new Set([...nodeOf].filter(([key]) => key.includes(tag)).map(([, node]) => node));

    const shardNodes: string[] = [];
    for (let n = 0; n < cfg.shards; n++) {
      const tag = shardQueueName(n);
      const keys = new ShardKeys(ns.prefix, n);
      // The checkpoint's keys and the shard queue's BullMQ keys are all there…
      for (const key of [
        keys.progress,
        keys.signalBuckets.find((k) => nodeOf.has(k)) ?? keys.signalBucket(0), // one holds records
        keys.ids,
        keys.books,
        keys.clock,
        `${ns.prefix}:${tag}:meta`,
      ])
        expect(nodeOf.has(key), `${key} is on no node`).toBe(true);
      // …on one node: the checkpoint script and the queue's scripts never cross slots.
      const nodes = nodesOf(tag);
      expect([...nodes], `the keys of shard ${n} (${tag}) are on ${[...nodes].join(', ')}`).toHaveLength(1);
      shardNodes.push([...nodes][0]!);
    }
    // Four shards over three masters: every master serves at least one.
    expect(new Set(shardNodes).size).toBe(cluster.nodes('master').length);
    expect(cluster.nodes('master')).toHaveLength(3);
    // Each intake queue whole on one node too, under its own tag.
    for (const queue of [QUEUE_NAMES.trackSignal, QUEUE_NAMES.signalOps]) {
      const tag = queueNameOn(queue, true);
      expect(tag).toBe(`{${queue}}`);
      expect(nodesOf(`:${tag}:`).size, `the keys of ${tag}`).toBe(1);
    }
  });
});
