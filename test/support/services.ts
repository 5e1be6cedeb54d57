/**
 * Helpers for integration tests against the real Redis and PostgreSQL that `npm test` starts
 * (scripts/services.sh) or that REDIS_URL / DATABASE_URL point at.
 *
 * - {@link useTestDatabase}: a database of this test file's own, cloned from a template that is
 *   migrated once per schema version (graphile-worker's approach), dropped after the file.
 * - {@link useRedisNamespace}: a key prefix and queue names of each test's own, deleted after it.
 * - {@link useResourceTracker}: create clients through it and a test that leaves one open fails.
 * - {@link startIsolatedServices}: private Redis + PostgreSQL of a test's own, for tests that stop
 *   or restart them (doing that to the shared instances would break the tests running beside them).
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { migrate, MIGRATIONS_DIR, type MigrateLog } from '../../src/storage/migrate.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVICES_SCRIPT = join(REPO_ROOT, 'scripts', 'services.sh');

export const MISSING_SERVICES_MESSAGE =
  'integration tests need REDIS_URL/DATABASE_URL; run them through npm test';

/** REDIS_URL, or a clear failure when the test was not started through `npm test`. */
export function redisUrl(): string {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error(MISSING_SERVICES_MESSAGE);
  return url;
}

/** A user of the test Redis that may read but not write: see {@link createReadOnlyRedisUser}. */
export interface ReadOnlyRedisUser {
  /** redisUrl() signed in as the user. */
  url: string;
  /** Lets the user write again (Redis taking writes once more). */
  allowWrites(): Promise<void>;
  /** Deletes the user: call it in a `finally`. */
  remove(): Promise<void>;
}

/**
 * A Redis refusing writes for now (at its maxmemory, loading, a replica), as a client sees it,
 * without touching the Redis the other test files share: a user whose every write, scripts'
 * included, is refused (NOPERM) until `allowWrites()`.
 */
export async function createReadOnlyRedisUser(admin: Redis, label: string): Promise<ReadOnlyRedisUser> {
  const user = `${label}-${process.pid}-${Date.now()}`;
  const password = 'a password of some length';
  await admin.acl('SETUSER', user, 'on', `>${password}`, '~*', '&*', '+@all', '-@write');
  const url = new URL(redisUrl());
  url.username = user;
  url.password = password;
  return {
    url: url.toString(),
    allowWrites: async () => void (await admin.acl('SETUSER', user, '+@all')),
    remove: async () => void (await admin.acl('DELUSER', user)),
  };
}

/**
 * The Redis Cluster of the cluster tests (REDIS_CLUSTER_TEST_NODES, `host:port,…`, which
 * `scripts/services.sh cluster-start` writes and npm test starts), or a clear failure.
 */
export function redisClusterNodes(): string {
  const nodes = process.env.REDIS_CLUSTER_TEST_NODES;
  if (!nodes)
    throw new Error(
      'the Redis Cluster tests need REDIS_CLUSTER_TEST_NODES (scripts/services.sh cluster-start); run them through npm test',
    );
  return nodes;
}

/** A client of the test cluster ({@link redisClusterNodes}), as the processes build theirs. */
export function connectTestCluster(options: RedisOptions = {}): Cluster {
  const nodes = redisClusterNodes()
    .split(',')
    .map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) }));
  const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null, ...options } });
  // Failures surface through commands; an unhandled 'error' event would crash the test process.
  cluster.on('error', () => {});
  return cluster;
}

/** DATABASE_URL, or a clear failure when the test was not started through `npm test`. */
export function databaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error(MISSING_SERVICES_MESSAGE);
  return url;
}

/** A logger that drops everything, for code under test that wants one. */
export const silentLog: MigrateLog = { debug() {}, info() {}, warn() {}, error() {} };

function uniqueSuffix(): string {
  return `${process.pid.toString(36)}x${randomBytes(4).toString('hex')}`;
}

/** The same server and credentials as `url`, another database. */
export function databaseUrlFor(name: string, url = databaseUrl()): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

// ------------------------------------------------------------------------------------------------
// Databases

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database; fails if connections to it were left open (after closing them). */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** false: an empty database (for testing migrations themselves). @defaultValue true */
  migrated?: boolean;
}

// Serialises template builds and clones across all test processes sharing the server.
const TEMPLATE_LOCK_KEY = 'outcome-tracker test template';

async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrl(),
    application_name: 'outcome-tracker tests admin',
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Template name derived from the migrations' contents: a changed migration gets a fresh template. */
async function templateName(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of (await readdir(MIGRATIONS_DIR)).sort()) {
    hash
      .update(file)
      .update('\0')
      .update(await readFile(join(MIGRATIONS_DIR, file)));
  }
  return `ot_template_${hash.digest('hex').slice(0, 12)}`;
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function ensureTemplate(admin: pg.Client, name: string): Promise<void> {
  const { rows } = await admin.query<{ datistemplate: boolean }>(
    'SELECT datistemplate FROM pg_database WHERE datname = $1',
    [name],
  );
  if (rows[0]?.datistemplate) return;
  // Not marked as a template: a build that died half-way. Start over.
  if (rows[0]) await admin.query(`DROP DATABASE ${quoteIdent(name)} WITH (FORCE)`);
  // Templates of older migration versions are of no further use.
  const stale = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'ot\\_template\\_%' AND datname <> $1",
    [name],
  );
  for (const { datname } of stale.rows) {
    await admin.query(`ALTER DATABASE ${quoteIdent(datname)} WITH IS_TEMPLATE false`);
    await admin.query(`DROP DATABASE ${quoteIdent(datname)} WITH (FORCE)`);
  }
  await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  await migrate({ databaseUrl: databaseUrlFor(name), log: silentLog });
  // Cloning fails while anyone is connected to the template; refusing connections keeps it clonable.
  await admin.query(`ALTER DATABASE ${quoteIdent(name)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
}

/**
 * Creates a database of its own: by default a copy of the migrated template (fast: no migrations
 * run per test file), or empty with `{ migrated: false }`.
 */
export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `ot_test_${uniqueSuffix()}`;
  await withAdminClient(async (admin) => {
    if (options.migrated === false) {
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
      return;
    }
    const template = await templateName();
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [TEMPLATE_LOCK_KEY]);
    try {
      await ensureTemplate(admin, template);
      await admin.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [TEMPLATE_LOCK_KEY]);
    }
  });
  return { name, url: databaseUrlFor(name), drop: () => dropTestDatabase(name) };
}

async function dropTestDatabase(name: string): Promise<void> {
  await withAdminClient(async (admin) => {
    // A backend can outlive its client's end() by a moment; give it that moment before calling it a leak.
    let open: { application_name: string; state: string | null }[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      ({ rows: open } = await admin.query(
        'SELECT application_name, state FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      ));
      if (open.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    if (open.length > 0) {
      throw new Error(
        `${open.length} connection(s) to test database ${name} were left open: ` +
          open.map((c) => `${c.application_name || '(no application_name)'} [${c.state}]`).join(', '),
      );
    }
  });
}

/**
 * Gives the calling test file a database of its own for all its tests (created in beforeAll,
 * dropped in afterAll). Read `url` inside tests or hooks, not at module level.
 */
export function useTestDatabase(options: CreateTestDatabaseOptions = {}): {
  readonly url: string;
  readonly name: string;
} {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(options);
  });
  afterAll(async () => {
    await db?.drop();
  });
  const current = (): TestDatabase => {
    if (!db) throw new Error('the test database exists only inside tests and hooks');
    return db;
  };
  return {
    get url() {
      return current().url;
    },
    get name() {
      return current().name;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Redis namespaces

export interface RedisNamespace {
  /** Key prefix of this namespace; pass it as BullMQ's `prefix` / QUEUE_PREFIX and to ShardKeys. */
  readonly prefix: string;
  /** A queue name unique to this namespace, e.g. queueName('ticks-0'). */
  queueName(base: string): string;
  /** Deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

/**
 * A namespace on the test Redis, or with `cluster` on the test Redis Cluster (its cleanup then
 * scans every master: SCAN sees one node's keys).
 */
export function createRedisNamespace(label = 'test', cluster = false): RedisNamespace {
  const suffix = uniqueSuffix();
  // Only [a-z0-9-], as QUEUE_PREFIX allows, and no glob characters for SCAN MATCH. Keys are
  // `${prefix}:…` (BullMQ and src/names.ts), so matching `${prefix}:*` never reaches into
  // another namespace whose prefix merely starts with this one.
  const prefix = `t-${label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}-${suffix}`;
  return {
    prefix,
    queueName: (base) => `${base}-${suffix}`,
    async cleanup() {
      if (cluster) {
        const client = connectTestCluster({ maxRetriesPerRequest: 3 });
        try {
          await new Promise<void>((resolve, reject) => {
            client.once('ready', resolve);
            client.once('end', () => reject(new Error('the test cluster closed the connection')));
          });
          // Keys one at a time: on a cluster one UNLINK may only name keys of one slot.
          for (const node of client.nodes('master'))
            for (const key of await scanKeys(node, `${prefix}:*`)) await node.unlink(key);
        } finally {
          client.disconnect();
        }
        return;
      }
      const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 3 });
      redis.on('error', () => {});
      await redis.connect();
      try {
        for (const keys of chunks(await scanKeys(redis, `${prefix}:*`), 1000)) await redis.unlink(...keys);
      } finally {
        await redis.quit();
      }
    },
  };
}

/** Every key of one Redis server matching `pattern`. */
export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Gives every test of the calling file a fresh {@link RedisNamespace} (beforeEach) and deletes its
 * keys afterwards (afterEach). Read `prefix` / `queueName` inside tests.
 */
export function useRedisNamespace(
  label?: string,
  options: { cluster?: boolean } = {},
): Omit<RedisNamespace, 'cleanup'> {
  let ns: RedisNamespace | undefined;
  beforeEach((context) => {
    ns = createRedisNamespace(label ?? context.task.name.slice(0, 24), options.cluster);
  });
  afterEach(async () => {
    await ns?.cleanup();
    ns = undefined;
  });
  const current = (): RedisNamespace => {
    if (!ns) throw new Error('the Redis namespace exists only inside tests');
    return ns;
  };
  return {
    get prefix() {
      return current().prefix;
    },
    queueName: (base) => current().queueName(base),
  };
}

// ------------------------------------------------------------------------------------------------
// Open-handle tracking

/** Anything with an async close(): BullMQ Queue, Worker, QueueEvents, FlowProducer, our own services. */
export interface Closeable {
  close(): Promise<unknown>;
}

interface Tracked {
  name: string;
  isClosed(): boolean;
  forceClose(): Promise<unknown>;
}

export interface ResourceTracker {
  /** A Redis connection to REDIS_URL (`maxRetriesPerRequest: null`, as BullMQ workers need). */
  redis(options?: RedisOptions, name?: string): Redis;
  /** A pg pool on `connectionString` (default DATABASE_URL). */
  pool(connectionString?: string, name?: string): pg.Pool;
  /** A connected pg client on `connectionString` (default DATABASE_URL). */
  client(connectionString?: string, name?: string): Promise<pg.Client>;
  /** Tracks something created elsewhere; it counts as closed once its close() has been called. */
  track<T extends Closeable>(resource: T, name: string): T;
  /** Names of the resources not closed yet. */
  open(): string[];
  /** Closes whatever is still open, then fails naming it. */
  assertAllClosed(): Promise<void>;
  /** Closes whatever is still open. */
  closeAll(): Promise<void>;
}

/**
 * Runs `fn` on a database of its own ({@link createTestDatabase}), dropped afterwards. If `fn`
 * fails, the tracker's clients are closed first, so that the database can be dropped and the
 * failure shows.
 */
export async function withTestDatabase<T>(
  resources: ResourceTracker,
  fn: (db: TestDatabase) => Promise<T>,
  options: CreateTestDatabaseOptions = {},
): Promise<T> {
  const db = await createTestDatabase(options);
  try {
    return await fn(db);
  } catch (err) {
    await resources.closeAll();
    throw err;
  } finally {
    await db.drop();
  }
}

export function createResourceTracker(): ResourceTracker {
  const resources: Tracked[] = [];

  const tracker: ResourceTracker = {
    redis(options = {}, name = 'redis connection') {
      const redis = new Redis(redisUrl(), { maxRetriesPerRequest: null, ...options });
      // An unhandled 'error' event would crash the test process; the test sees failures through commands.
      redis.on('error', () => {});
      resources.push({
        name,
        isClosed: () => redis.status === 'end',
        forceClose: () => Promise.resolve(redis.disconnect()),
      });
      return redis;
    },
    pool(connectionString = databaseUrl(), name = 'pg pool') {
      const pool = new pg.Pool({ connectionString, application_name: name });
      pool.on('error', () => {});
      resources.push({ name, isClosed: () => pool.ended, forceClose: () => pool.end() });
      return pool;
    },
    async client(connectionString = databaseUrl(), name = 'pg client') {
      const client = new pg.Client({ connectionString, application_name: name });
      let ended = false;
      client.on('end', () => (ended = true));
      client.on('error', () => {});
      resources.push({ name, isClosed: () => ended, forceClose: () => client.end() });
      await client.connect();
      return client;
    },
    track(resource, name) {
      let closed = false;
      const close = resource.close.bind(resource) as (...args: unknown[]) => Promise<unknown>;
      // Arguments pass through: a worker's close(true) is a forced close.
      resource.close = (...args: unknown[]) => {
        closed = true;
        return close(...args);
      };
      resources.push({ name, isClosed: () => closed, forceClose: close });
      return resource;
    },
    open: () => resources.filter((r) => !r.isClosed()).map((r) => r.name),
    async closeAll() {
      const open = resources.filter((r) => !r.isClosed());
      resources.length = 0;
      await Promise.allSettled(open.map((r) => r.forceClose()));
    },
    async assertAllClosed() {
      const leaked = resources.filter((r) => !r.isClosed());
      resources.length = 0;
      await Promise.allSettled(leaked.map((r) => r.forceClose()));
      if (leaked.length > 0) {
        throw new Error(`test left open: ${leaked.map((r) => r.name).join(', ')} (close them in the test)`);
      }
    },
  };
  return tracker;
}

/** A tracker checked after every test of the calling file: a test that leaves something open fails. */
export function useResourceTracker(): ResourceTracker {
  const tracker = createResourceTracker();
  afterEach(async (context) => {
    // A test that already failed skipped its own clean-up; close silently rather than bury the
    // real failure under a leak report.
    if (context.task.result?.state === 'fail') await tracker.closeAll();
    else await tracker.assertAllClosed();
  });
  return tracker;
}

// ------------------------------------------------------------------------------------------------
// Isolated services (for tests that stop or restart them)

export interface IsolatedServices {
  redisUrl: string;
  databaseUrl: string;
  pgStop(mode?: 'fast' | 'immediate'): Promise<void>;
  pgStart(): Promise<void>;
  redisStop(): Promise<void>;
  redisStart(): Promise<void>;
  redisRestart(): Promise<void>;
  /** Stops both and deletes their data. */
  stop(): Promise<void>;
}

/**
 * Starts a private Redis and PostgreSQL (database `outcome_tracker`, not migrated) of the caller's
 * own through scripts/services.sh, on loopback ports of their own. Takes a few seconds (initdb).
 * Needs the server binaries, which `npm test` has ensured.
 */
export async function startIsolatedServices(): Promise<IsolatedServices> {
  const parent = join(REPO_ROOT, '.tmp', 'services');
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, 'isolated-'));
  // mkdtemp makes it 0700; as root, PostgreSQL runs as another user that must reach its data inside.
  await chmod(dir, 0o755);
  // Unset the URLs so that services.sh starts both instead of deferring to the shared ones.
  const env: NodeJS.ProcessEnv = { ...process.env, SERVICES_DIR: dir };
  delete env.REDIS_URL;
  delete env.DATABASE_URL;
  const run = async (...args: string[]): Promise<void> => {
    try {
      await execFileAsync('bash', [SERVICES_SCRIPT, ...args], { env, timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`scripts/services.sh ${args.join(' ')} failed: ${e.stderr || e.message}`, {
        cause: err,
      });
    }
  };
  await run('start');
  const envFile = await readFile(join(dir, 'env'), 'utf8');
  const value = (key: string): string => {
    const match = new RegExp(`^export ${key}=(.+)$`, 'm').exec(envFile);
    if (!match?.[1]) throw new Error(`scripts/services.sh wrote no ${key} to ${dir}/env`);
    return match[1];
  };
  return {
    redisUrl: value('REDIS_URL'),
    databaseUrl: value('DATABASE_URL'),
    pgStop: (mode = 'fast') => run('pg-stop', mode),
    pgStart: () => run('pg-start'),
    redisStop: () => run('redis-stop'),
    redisStart: () => run('redis-start'),
    redisRestart: () => run('redis-restart'),
    stop: () => run('stop', '--clean'),
  };
}
