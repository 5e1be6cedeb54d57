import '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from '../names.ts';
import { grants } from './apiKey.ts';
import type { KeyLookup, Principal } from './createKeyLookup.ts';
import { HttpError, sendError } from './httpErrors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs (`admin` implies the others), or `public`: no key at all. */
    scope?: Scope | 'public';
  }
  interface FastifyRequest {
    /** Who is asking; null only on public routes. */
    principal: Principal | null;
  }
}

/** The realm the browser shows when it asks for Bull Board's credentials. */
export const REALM = 'outcome-tracker';

/** What a rate limit says of one request (see createRateLimiter). */
export type RateVerdict = { limited: false } | { limited: true; retryAfterSeconds: number; max: number };

export interface AuthenticateOptions {
  lookup: KeyLookup;
  /**
   * Counts a request against its bucket (`key:<id>` once a key is known, `ip:<address>`
   * before): run between finding the key and answering 401/403, so that guesses at keys are
   * limited by address. Null: no limit.
   */
  rateLimit: ((request: FastifyRequest, bucket: string) => Promise<RateVerdict>) | null;
  /** Where HTTP Basic is accepted (the key as password) and a 401 asks the browser for it. */
  basicAuth(request: FastifyRequest): boolean;
  /** The scope of a route that declares none (fail closed: `admin` unless said otherwise). */
  scopeOf(request: FastifyRequest): Scope;
  /** Browser pages (the dashboard); absent: none. */
  browser?: BrowserAccess;
}

/**
 * How a browser signs in (docs/DASHBOARD.md "Signing in"): a browser cannot put a Bearer header on a
 * page load or an EventSource, so it presents its key in an HttpOnly, SameSite=Strict session
 * cookie, accepted on GET and HEAD only (reads: a forged cross-site write finds no cookie to ride
 * on, and SameSite keeps it off cross-site reads too).
 */
export interface BrowserAccess {
  /** The session cookie's name (@fastify/cookie parses it before this hook runs). */
  cookie: string;
  /** Where a GET or HEAD may present the cookie (the dashboard, the /v1 reads, the stream). */
  cookiePaths(request: FastifyRequest): boolean;
  /**
   * Where a refusal is a page, not JSON: the sign-in page's HTML, answered with the 401 (Basic
   * is accepted there too, as Bull Board accepts it, without asking the browser for it); null
   * elsewhere.
   */
  signInPage(request: FastifyRequest): string | null;
}

/**
 * Every request but a public route's must present an API key (docs/API.md "Authentication"):
 * `Authorization: Bearer <key>`, or where `basicAuth` says so (and on browser pages) HTTP Basic
 * with any user name and the key as password, or on a browser's reads the session cookie
 * ({@link BrowserAccess}). Unknown or revoked: 401; valid without the route's scope: 403;
 * otherwise `request.principal` is set and the request logs carry the key's id and tenant
 * (never the key).
 *
 * A plugin that is not encapsulated (fastify's skip-override, as fastify-plugin sets), so
 * that its hook covers every route of the server, Bull Board's included.
 */
export async function authenticate(app: FastifyInstance, opts: AuthenticateOptions): Promise<void> {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    const declared = request.routeOptions.config.scope;
    if (declared === 'public') return;
    const basic = opts.basicAuth(request);
    const page = opts.browser?.signInPage(request) ?? null;

    const presented =
      credentials(request.headers.authorization, basic || page !== null) ??
      sessionCookie(request, opts.browser);
    const principal = presented === null ? null : await opts.lookup(presented);

    if (opts.rateLimit !== null) {
      const verdict = await opts.rateLimit(
        request,
        principal === null ? `ip:${request.ip}` : `key:${principal.keyId}`,
      );
      if (verdict.limited) {
        reply.header('retry-after', verdict.retryAfterSeconds);
        return sendError(
          reply,
          new HttpError(
            'RATE_LIMITED',
            `more than ${verdict.max} requests a minute; retry in ${verdict.retryAfterSeconds} s`,
          ),
        );
      }
    }

    if (principal === null) {
      if (page !== null)
        return reply
          .code(401)
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(page);
      return unauthorized(reply, basic, presented === null);
    }
    // No route at all: any valid key may learn that (404), whatever its scopes.
    const needed = declared ?? (request.is404 ? null : opts.scopeOf(request));
    if (needed !== null && !grants(principal.scopes, needed)) {
      return sendError(
        reply,
        new HttpError(
          'SCOPE_FORBIDDEN',
          `this needs the ${needed} scope; the key has ${principal.scopes.join(', ')}`,
        ),
      );
    }
    request.principal = principal;
    // Both: the reply's logger writes the "request completed" line.
    request.log = reply.log = request.log.child({ keyId: principal.keyId, tenant: principal.tenant });
  });
}
// Not encapsulated: the hook must cover the routes registered beside it (see above).
(authenticate as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** The key in the session cookie, on a GET or HEAD where the cookie is accepted; else null. */
function sessionCookie(request: FastifyRequest, browser: BrowserAccess | undefined): string | null {
  if (browser === undefined || (request.method !== 'GET' && request.method !== 'HEAD')) return null;
  if (!browser.cookiePaths(request)) return null;
  const value = request.cookies?.[browser.cookie];
  return value === undefined || value === '' ? null : value;
}

/** The key in an Authorization header: Bearer, or Basic's password where allowed. */
function credentials(header: string | undefined, basic: boolean): string | null {
  if (header === undefined) return null;
  const [scheme, value] = header.trim().split(/\s+/, 2) as [string, string | undefined];
  if (value === undefined || value === '') return null;
  if (scheme.toLowerCase() === 'bearer') return value;
  if (basic && scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 || colon === decoded.length - 1 ? null : decoded.slice(colon + 1);
  }
  return null;
}

function unauthorized(reply: FastifyReply, basic: boolean, missing: boolean): FastifyReply {
  // Basic makes the browser prompt for Bull Board; elsewhere the client is a program.
  reply.header(
    'www-authenticate',
    basic ? `Basic realm="${REALM}", charset="UTF-8"` : `Bearer realm="${REALM}"`,
  );
  return sendError(
    reply,
    missing
      ? new HttpError(
          'API_KEY_MISSING',
          basic
            ? 'sign in with any user name and an API key as the password'
            : 'send an API key as Authorization: Bearer <key>',
        )
      : new HttpError('API_KEY_INVALID'),
  );
}
