import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/web/createKeyLookup.ts';
import { HttpError } from '../../src/web/httpErrors.ts';
import { tenantScope } from '../../src/web/tenantScope.ts';

const acme: Principal = { keyId: 'k1', tenant: 'acme', scopes: ['read'], admin: false };
const ops: Principal = { keyId: 'k2', tenant: 'ops', scopes: ['admin'], admin: true };

describe('tenantScope', () => {
  it('gives a tenant key exactly its tenant, named or not', () => {
    expect(tenantScope(acme)).toBe('acme');
    expect(tenantScope(acme, '')).toBe('acme');
    expect(tenantScope(acme, 'acme')).toBe('acme');
  });

  it('refuses a tenant key that names another tenant with 403 TENANT_FORBIDDEN, not a quiet substitute', () => {
    let error: unknown;
    try {
      tenantScope(acme, 'globex');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).statusCode).toBe(403);
    expect((error as HttpError).body.error.code).toBe('TENANT_FORBIDDEN');
  });

  it('gives an admin key the tenant it names, or every tenant (null), its own tenant notwithstanding', () => {
    expect(tenantScope(ops)).toBeNull();
    expect(tenantScope(ops, 'globex')).toBe('globex');
    expect(tenantScope(ops, 'ops')).toBe('ops');
  });
});
