import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_KEYS,
  ConfigError,
  loadConfig,
  parseShardList,
  redisTargetOf,
  requireSettings,
  retentionOf,
} from '../../src/config.ts';

describe('configuration', () => {
  it('documents exactly the variables the code reads (docs/CONFIG.md)', () => {
    const doc = readFileSync(new URL('../../docs/CONFIG.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...CONFIG_KEYS].sort());
  });

  it("keeps audit rows by default and sets their retention apart from the outcomes'", () => {
    expect(retentionOf(loadConfig({}))).toEqual({ outcomesDays: null, auditDays: null });
    expect(retentionOf(loadConfig({ RETENTION_DAYS: '400' }))).toEqual({
      outcomesDays: 400,
      auditDays: null,
    });
    expect(retentionOf(loadConfig({ AUDIT_RETENTION_DAYS: '2555' }))).toEqual({
      outcomesDays: null,
      auditDays: 2555,
    });
  });

  it('fills defaults and coerces numbers and switches', () => {
    const c = loadConfig({ SHARDS: '16', STALE_SWEEP: 'off' });
    expect(c.SHARDS).toBe(16);
    expect(c.STALE_SWEEP).toBe(false);
    expect(c.QUEUE_PREFIX).toBe('bull');
    expect(c.TICK_BATCH_SIZE).toBe(2000);
  });

  it('names every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ SHARDS: 'many', STALE_SWEEP: 'sometimes', REDIS_URL: 'not a url' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['SHARDS', 'STALE_SWEEP', 'REDIS_URL']) expect(message).toContain(name);
  });

  it('refuses a schedule that is not a cron expression and a negative delivery retention, at start-up', () => {
    let error: unknown;
    try {
      loadConfig({
        SWEEP_CRON: 'every ten seconds',
        ANALYZE_CRON: '*/15 * *',
        REPORT_CRON: '99 * * * *',
        PRUNE_CRON: 'hourly',
        WEBHOOK_DELIVERIES_RETENTION_DAYS: '-1',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of [
      'SWEEP_CRON',
      'ANALYZE_CRON',
      'REPORT_CRON',
      'PRUNE_CRON',
      'WEBHOOK_DELIVERIES_RETENTION_DAYS',
    ])
      expect(message).toContain(name);
    expect(message).toMatch(/must be a cron expression/);
    const c = loadConfig({ PRUNE_CRON: '0 3 * * *', WEBHOOK_DELIVERIES_RETENTION_DAYS: '0' });
    expect(c.PRUNE_CRON).toBe('0 3 * * *');
    expect(c.WEBHOOK_DELIVERIES_RETENTION_DAYS).toBe(0);
    expect(loadConfig({}).WEBHOOK_DELIVERIES_RETENTION_DAYS).toBe(30);
  });

  it('refuses to start a process without the services it needs', () => {
    expect(() => requireSettings(loadConfig({}), 'REDIS_URL', 'DATABASE_URL')).toThrow(
      /REDIS_URL, DATABASE_URL/,
    );
  });

  it('takes a Redis Cluster or one Redis, never both', () => {
    const cluster = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' });
    expect(redisTargetOf(cluster)).toEqual({
      clusterNodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b', port: 7001 },
      ],
    });
    expect(redisTargetOf(loadConfig({ REDIS_URL: 'redis://r:6379' }))).toEqual({ url: 'redis://r:6379' });
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'redis-b' })).toThrow(
      /REDIS_CLUSTER_NODES: must be host:port/,
    );
    expect(() => loadConfig({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'redis-b:7001' })).toThrow(
      /set one of them, not both/,
    );
    expect(() => redisTargetOf(loadConfig({}))).toThrow(/REDIS_URL or REDIS_CLUSTER_NODES/);
  });

  it('parses WORKER_SHARDS ranges and rejects shards beyond SHARDS', () => {
    expect(parseShardList('', 3)).toEqual([0, 1, 2]);
    expect(parseShardList('0-2, 6', 8)).toEqual([0, 1, 2, 6]);
    expect(() => parseShardList('9', 8)).toThrow(/shard 9/);
  });
});
