import type { Principal } from './createKeyLookup.ts';
import { HttpError } from './httpErrors.ts';

/**
 * The tenant a request may read or write, for the routes' queries (docs/API.md "Tenants"):
 * a key of one tenant reaches exactly that tenant, and naming another (`?tenant=`) is
 * refused with 403 TENANT_FORBIDDEN rather than quietly answered with the key's own; an admin
 * key reaches the tenant it names, or every tenant (null) when it names none.
 *
 * @param requested the tenant the request names (`?tenant=`), if any
 * @returns the tenant to filter on, or null for "every tenant" (admin keys only)
 */
export function tenantScope(principal: Principal, requested?: string | null): string | null {
  const named = requested === undefined || requested === null || requested === '' ? null : requested;
  if (principal.admin) return named;
  if (named !== null && named !== principal.tenant) {
    throw new HttpError(
      'TENANT_FORBIDDEN',
      `this API key belongs to tenant ${principal.tenant}, not ${named}`,
    );
  }
  return principal.tenant;
}
