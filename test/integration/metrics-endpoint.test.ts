/**
 * The metrics endpoint of the worker, flusher and scheduler (src/telemetry/serveMetrics.ts) and
 * its settings: what a scrape gets, what anything else gets, and a taken port refused at start.
 * The end-to-end counts are test/e2e/metrics.test.ts's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createFlusherMetrics } from '../../src/telemetry/createFlusherMetrics.ts';
import { createProcessRegistry } from '../../src/telemetry/createProcessRegistry.ts';
import { createSchedulerMetrics } from '../../src/telemetry/createSchedulerMetrics.ts';
import { createWorkerMetrics } from '../../src/telemetry/createWorkerMetrics.ts';
import { serveMetrics, type MetricsServer } from '../../src/telemetry/serveMetrics.ts';
import { parseScrape, promtool, sum } from '../support/promText.ts';

const log = pino({ level: 'silent' });
const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('the metrics endpoint', () => {
  it('reads METRICS_PORT as off (the default), 0 or a port, and names a bad value', () => {
    expect(loadConfig({}).METRICS_PORT).toBeNull();
    expect(loadConfig({ METRICS_PORT: 'off' }).METRICS_PORT).toBeNull();
    expect(loadConfig({ METRICS_PORT: '0' }).METRICS_PORT).toBe(0);
    expect(loadConfig({ METRICS_PORT: '9470' }).METRICS_PORT).toBe(9470);
    expect(loadConfig({}).METRICS_HOST).toBe('127.0.0.1');
    expect(() => loadConfig({ METRICS_PORT: 'on' })).toThrow(/METRICS_PORT: must be "off" or a port number/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  });

  it('serves the registry at GET /metrics on a free port, 404 elsewhere, and refuses a taken port', async () => {
    const registry = createProcessRegistry('flusher');
    const metrics = createFlusherMetrics(registry, () => 1_800_000_000_000);
    metrics.batchCommitted({ outcomes: 3, closeToCommitMs: [40, 60, 2000], removed: 5 });
    metrics.pass(true, 0);
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0, log });
    servers.push(server);
    expect(server.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const res = await fetch(`${server.address}/metrics`);
    expect(res.status).toBe(200);
    const scrape = parseScrape(await res.text());
    expect(sum(scrape, 'outcome_tracker_outcomes_flushed_total')).toBe(3);
    expect(sum(scrape, 'outcome_tracker_outbox_entries_removed_total')).toBe(5);
    expect(sum(scrape, 'outcome_tracker_close_to_commit_seconds_count')).toBe(3);
    expect(sum(scrape, 'outcome_tracker_close_to_commit_seconds_bucket', { le: '0.05' })).toBe(1);
    expect(sum(scrape, 'outcome_tracker_close_to_commit_seconds_sum')).toBeCloseTo(2.1);
    expect(sum(scrape, 'outcome_tracker_flush_last_success_timestamp_seconds')).toBe(1_800_000_000);
    expect(sum(scrape, 'outcome_tracker_build_info', { process: 'flusher' })).toBe(1);
    expect((await fetch(`${server.address}/`)).status).toBe(404);
    expect((await fetch(`${server.address}/metrics`, { method: 'POST' })).status).toBe(404);

    const port = Number(new URL(server.address).port);
    await expect(serveMetrics(registry, { host: '127.0.0.1', port, log })).rejects.toThrow(/EADDRINUSE/);
  });

  it('gives promtool nothing to complain about in any process’s registry, before and after counting', async () => {
    const worker = createProcessRegistry('worker');
    const counting = createWorkerMetrics(worker, () => 1_000, [0, 1]);
    counting.intake.signal('accepted');
    counting.intake.signal('rejected', 'PAYLOAD_SCHEMA');
    counting.intake.operationRejected(null);
    const flusher = createProcessRegistry('flusher');
    createFlusherMetrics(flusher, () => 0).pass(false, 2);
    const scheduler = createProcessRegistry('scheduler');
    createSchedulerMetrics(scheduler)('sweep')(true);
    for (const registry of [worker, flusher, scheduler]) {
      const lint = promtool(['check', 'metrics'], await registry.metrics());
      expect(lint.output).toBe('');
      expect(lint.status).toBe(0);
    }
    const w = parseScrape(await worker.metrics());
    expect(sum(w, 'outcome_tracker_operations_total', { op: 'invalid', result: 'rejected' })).toBe(1);
    expect(sum(w, 'outcome_tracker_ticks_applied_total', { shard: '1' })).toBe(0);
    expect(sum(parseScrape(await flusher.metrics()), 'outcome_tracker_outbox_refused_entries')).toBe(2);
  });
});
