/**
 * `outcome-tracker api-key create|list|revoke` against a real PostgreSQL: the key is printed
 * once, only its hash is stored, list never shows either, revoke marks the row.
 */
import { describe, expect, it } from 'vitest';
import { apiKeyCommand } from '../../src/cli/apiKeyCommand.ts';
import { hashApiKey } from '../../src/web/apiKey.ts';
import { captureIo } from '../support/captureIo.ts';
import { useResourceTracker, useTestDatabase } from '../support/services.ts';

describe('outcome-tracker api-key', () => {
  const db = useTestDatabase();
  const resources = useResourceTracker();

  async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const { io, stdout, stderr } = captureIo();
    const code = await apiKeyCommand(args, io, { DATABASE_URL: db.url });
    return { code, stdout: stdout(), stderr: stderr() };
  }

  it('create --json prints exactly one line {id, key, tenant, scopes}; only the SHA-256 of the key is stored', async () => {
    const created = await run([
      'create',
      '--tenant',
      'acme',
      '--scopes',
      'submit,read',
      '--label',
      'ci',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(created.stdout.endsWith('\n')).toBe(true);
    expect(created.stdout.trimEnd().split('\n')).toHaveLength(1);
    const line = JSON.parse(created.stdout) as { id: string; key: string; tenant: string; scopes: string[] };
    expect(Object.keys(line)).toEqual(['id', 'key', 'tenant', 'scopes']);
    expect(line).toMatchObject({ tenant: 'acme', scopes: ['submit', 'read'] });
    expect(line.key).toMatch(/^otk_/);

    const client = await resources.client(db.url);
    const { rows } = await client.query<{ hash: Buffer; label: string; everything: string }>(
      'SELECT hash, label, to_jsonb(k)::text AS everything FROM api_keys k WHERE id = $1',
      [line.id],
    );
    expect(rows[0]!.hash.equals(hashApiKey(line.key))).toBe(true);
    expect(rows[0]!.label).toBe('ci');
    expect(rows[0]!.everything).not.toContain(line.key);
    await client.end();
  });

  it('create without --json shows the key once, with a warning that it is shown once', async () => {
    const created = await run(['create', '--tenant', 'acme', '--scopes', 'admin']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(
      /^api-key: created [0-9a-f-]{36} for tenant acme \(admin\)\notk_\S{43}\n.*shown once/,
    );
  });

  it('list shows every key of a tenant without the key or its hash; revoke marks it, twice is harmless', async () => {
    const mine = JSON.parse(
      (await run(['create', '--tenant', 'listed', '--scopes', 'read', '--json'])).stdout,
    ) as {
      id: string;
      key: string;
    };
    await run(['create', '--tenant', 'other', '--scopes', 'read', '--json']);

    const listed = await run(['list', '--tenant', 'listed', '--json']);
    expect(listed.code).toBe(0);
    const rows = listed.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([
      {
        id: mine.id,
        tenant: 'listed',
        scopes: ['read'],
        label: null,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        lastUsedAt: null,
        revokedAt: null,
      },
    ]);
    expect(listed.stdout).not.toContain(mine.key);
    expect(listed.stdout).not.toContain(hashApiKey(mine.key).toString('hex'));
    const all = await run(['list']);
    expect(all.stdout).toContain(mine.id);
    expect(all.stdout).toMatch(/other/);
    expect(all.stdout).not.toContain(mine.key);

    const revoked = await run(['revoke', mine.id, '--json']);
    expect(revoked.code).toBe(0);
    const at = (JSON.parse(revoked.stdout) as { revokedAt: string }).revokedAt;
    const again = await run(['revoke', mine.id]);
    expect(again).toMatchObject({ code: 0, stdout: `api-key: ${mine.id} was already revoked at ${at}\n` });
    const after = JSON.parse((await run(['list', '--tenant', 'listed', '--json'])).stdout) as {
      revokedAt: string;
    };
    expect(after.revokedAt).toBe(at);
  });

  it('revoke of an id no key has is refused: exit 2 through main, InputError here', async () => {
    await expect(run(['revoke', '00000000-0000-4000-8000-000000000000'])).rejects.toThrow(
      /no API key has the id 00000000-0000-4000-8000-000000000000/,
    );
  });
});
