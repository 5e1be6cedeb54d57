/**
 * The dashboard (docs/DASHBOARD.md): one page of the web process, its ES modules and the two
 * chart libraries from the installed packages (no CDN, no build step), and the browser's sign-in
 * and sign-out. Every route needs a `read` key; the page's data comes from the /v1 routes and
 * the stream, which accept the session cookie on GET (authenticate.ts `BrowserAccess`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BrowserAccess } from '../authenticate.ts';

/** Where the dashboard is served. */
export const DASHBOARD_PATH = '/dashboard';

/** The session cookie's name: it holds the API key (HttpOnly, SameSite=Strict, Secure on https). */
export const SESSION_COOKIE = 'ot_session';

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** Where an installed package's files are (its package.json is exported by both packages). */
const packageDir = (name: string): string => dirname(require.resolve(`${name}/package.json`));

/** The chart libraries, by the name the page loads them under. */
const VENDOR: Readonly<Record<string, string>> = {
  'echarts.min.js': join(packageDir('echarts'), 'dist', 'echarts.min.js'),
  'lightweight-charts.standalone.production.js': join(
    packageDir('lightweight-charts'),
    'dist',
    'lightweight-charts.standalone.production.js',
  ),
};

// Fail at start-up, not on the first page load, when a package's layout has changed.
for (const file of Object.values(VENDOR))
  if (!existsSync(file))
    throw new Error(`dashboard: ${file} is missing (npm ci installs the chart packages)`);

/** Whether `url` is the dashboard or below it. */
export function isDashboardPath(url: string): boolean {
  return (
    url === DASHBOARD_PATH ||
    url.startsWith(`${DASHBOARD_PATH}/`) ||
    url.startsWith(`${DASHBOARD_PATH}?`) ||
    url.startsWith(`${DASHBOARD_PATH}#`)
  );
}

const SESSION_PATH = `${DASHBOARD_PATH}/session`;

// The sign-in page's one inline script is allowed by its hash, and nothing else inline is.
const SIGN_IN_HTML = readFileSync(join(HERE, 'sign-in.html'), 'utf8');
const SIGN_IN_SCRIPT = /<script type="module">([\s\S]*?)<\/script>/.exec(SIGN_IN_HTML)?.[1] ?? '';
const SIGN_IN_CSP = cspWith(`'sha256-${createHash('sha256').update(SIGN_IN_SCRIPT).digest('base64')}'`);

/**
 * Pages: scripts from this origin only (plus the sign-in page's own, by hash); styles inline too,
 * as ECharts and lightweight-charts size their elements with style attributes.
 */
function cspWith(script: string): string {
  return [
    "default-src 'self'",
    `script-src ${script}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}
const PAGE_CSP = cspWith("'self'");

/** How authenticate.ts lets a browser in (see BrowserAccess). */
export const DASHBOARD_ACCESS: BrowserAccess = {
  cookie: SESSION_COOKIE,
  // The dashboard's pages and assets, and the /v1 reads it is built on (the stream included).
  cookiePaths: (request: FastifyRequest) => isDashboardPath(request.url) || request.url.startsWith('/v1/'),
  // A page or asset of the dashboard: the sign-in page, with the 401. The sign-in call itself
  // is a program (the page's script), answered in JSON.
  signInPage: (request: FastifyRequest) =>
    isDashboardPath(request.url) && !request.url.startsWith(SESSION_PATH) ? SIGN_IN_HTML : null,
};

/**
 * The dashboard's routes, each with `config.scope: 'read'` and hidden from the OpenAPI document
 * (they are pages, not API).
 */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    route.config = { scope: 'read', ...(route.config as object) };
    route.schema = { ...(route.schema ?? {}), hide: true };
  });
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html'))
      reply.header('content-security-policy', reply.statusCode === 401 ? SIGN_IN_CSP : PAGE_CSP);
    return payload;
  });

  const page = readFileSync(join(HERE, 'index.html'), 'utf8');
  const sendPage = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);
  app.get(DASHBOARD_PATH, sendPage);
  app.get(`${DASHBOARD_PATH}/`, sendPage);

  // Signing in: the page's script sends the key as a Bearer header (authenticate checks it, the
  // rate limit counts it); the answer sets the session cookie. Never a key in a URL.
  app.post(SESSION_PATH, async (request, reply) => {
    const principal = request.principal!;
    reply.setCookie(SESSION_COOKIE, keyOf(request.headers.authorization), {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
    });
    return reply.code(200).send({ tenant: principal.tenant, scopes: principal.scopes });
  });
  // Signing out: a read (the cookie rides on GET only), which clears the cookie.
  app.get(`${DASHBOARD_PATH}/sign-out`, async (request, reply) => {
    reply.clearCookie(SESSION_COOKIE, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
    });
    return reply.code(303).header('location', DASHBOARD_PATH).send();
  });
  // Who is signed in, for the page's header.
  app.get(`${DASHBOARD_PATH}/whoami`, async (request) => ({
    tenant: request.principal!.tenant,
    scopes: request.principal!.scopes,
  }));

  const cacheHeaders = (reply: FastifyReply): void => void reply.header('cache-control', 'private, no-cache');
  await app.register(fastifyStatic, {
    root: join(HERE, 'assets'),
    prefix: `${DASHBOARD_PATH}/assets/`,
    decorateReply: false,
    index: false,
    cacheControl: false,
    setHeaders: cacheHeaders,
  });
  await app.register(fastifyStatic, {
    root: [...new Set(Object.values(VENDOR).map((file) => dirname(file)))],
    prefix: `${DASHBOARD_PATH}/vendor/`,
    decorateReply: false,
    index: false,
    cacheControl: false,
    setHeaders: cacheHeaders,
    // Only the two bundles, not whatever else the packages ship.
    allowedPath: (pathName) => Object.hasOwn(VENDOR, pathName.replace(/^\//, '')),
  });
}

/** The key of a Bearer or Basic Authorization header (authenticate has accepted it). */
function keyOf(header: string | undefined): string {
  const [scheme, value = ''] = (header ?? '').trim().split(/\s+/, 2) as [string, string?];
  if (scheme.toLowerCase() !== 'basic') return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1);
}
