import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { createApiKey, grants, hashApiKey, looksLikeApiKey, sameHash } from '../../src/web/apiKey.ts';
import { captureIo } from '../support/captureIo.ts';

describe('API keys', () => {
  it('are otk_ and 256 random bits in base64url, stored as their SHA-256, never twice the same', () => {
    const a = createApiKey();
    const b = createApiKey();
    expect(a.key).toMatch(/^otk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.key.slice(4), 'base64url')).toHaveLength(32);
    expect(a.key).not.toBe(b.key);
    expect(a.hash.equals(createHash('sha256').update(a.key).digest())).toBe(true);
    expect(hashApiKey(a.key).equals(a.hash)).toBe(true);
    expect(looksLikeApiKey(a.key)).toBe(true);
    expect(looksLikeApiKey(a.key + 'x')).toBe(false);
    expect(looksLikeApiKey('Bearer ' + a.key)).toBe(false);
  });

  it('compares hashes whole: equal only when every byte is', () => {
    const { hash } = createApiKey();
    const other = Buffer.from(hash);
    other[31] = other[31]! ^ 1;
    expect(sameHash(hash, Buffer.from(hash))).toBe(true);
    expect(sameHash(hash, other)).toBe(false);
    expect(sameHash(hash, hash.subarray(0, 16))).toBe(false);
  });

  it('admin grants every scope; submit and read grant only themselves', () => {
    expect(grants(['admin'], 'submit')).toBe(true);
    expect(grants(['admin'], 'read')).toBe(true);
    expect(grants(['read'], 'read')).toBe(true);
    expect(grants(['read'], 'submit')).toBe(false);
    expect(grants(['submit', 'read'], 'admin')).toBe(false);
  });
});

describe('outcome-tracker api-key arguments', () => {
  // None of these reaches PostgreSQL: arguments are checked before a connection is opened.
  const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nowhere' };
  it.each([
    [['api-key'], /which action/],
    [['api-key', 'rotate'], /unknown action "rotate"/],
    [['api-key', 'create', '--scopes', 'read'], /needs --tenant/],
    [['api-key', 'create', '--tenant', 'acme'], /needs --scopes/],
    [['api-key', 'create', '--tenant', 'acme', '--scopes', 'read,write'], /unknown scope "write"/],
    [['api-key', 'revoke'], /exactly one key id/],
    [['api-key', 'revoke', '42'], /not a key id/],
    [['api-key', 'list', '--colour'], /Unknown option '--colour'/],
  ])('%j exits 2 with one line naming the problem', async (argv, message) => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = env.DATABASE_URL;
    try {
      const { io, stdout, stderr } = captureIo();
      expect(await main(argv, io)).toBe(2);
      expect(stdout()).toBe('');
      expect(stderr()).toMatch(message);
      expect(stderr().trimEnd().split('\n')).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  it('--help prints the three actions and exits 0', async () => {
    const { io, stdout } = captureIo();
    expect(await main(['api-key', '--help'], io)).toBe(0);
    expect(stdout()).toMatch(/api-key create --tenant T --scopes/);
    expect(stdout()).toMatch(/api-key list/);
    expect(stdout()).toMatch(/api-key revoke ID/);
  });

  it('exits 1 naming PostgreSQL and its host (not the password) when it cannot be reached', async () => {
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = 'postgres://someone:hunter2@127.0.0.1:1/nowhere';
    try {
      const { io, stderr } = captureIo();
      expect(await main(['api-key', 'list'], io)).toBe(1);
      expect(stderr()).toMatch(/^api-key: cannot reach PostgreSQL at postgres:\/\/127\.0\.0\.1:1\/nowhere: /);
      expect(stderr()).not.toContain('hunter2');
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    }
  });

  it('exits 2 naming a bad setting, as for bad arguments', async () => {
    const saved = process.env.PRUNE_CRON;
    process.env.PRUNE_CRON = 'hourly';
    try {
      const { io, stderr } = captureIo();
      expect(await main(['api-key', 'list'], io)).toBe(2);
      expect(stderr()).toMatch(/^api-key: invalid configuration:.*PRUNE_CRON: must be a cron expression/);
      expect(stderr().trim().split('\n')).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env.PRUNE_CRON;
      else process.env.PRUNE_CRON = saved;
    }
  });
});
