/**
 * The Host check against DNS rebinding: a page on an attacker's domain that resolves to
 * 127.0.0.1 reaches this server from the victim's browser, but with the attacker's name in
 * `Host`. Answering only to names we expect closes that door.
 *
 * `spec` is HTTP_ALLOWED_HOSTS: comma-separated names, each with or without a port (`name`
 * allows any port, `name:8443` that port only), IPv6 in brackets; `*` allows every host.
 * `listenHost` (HTTP_HOST) is always allowed too. Returns the test for a `Host` header.
 */
export function allowedHosts(spec: string, listenHost: string): (host: string | undefined) => boolean {
  const entries = spec
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (entries.includes('*')) return () => true;
  const listen = listenHost.trim().toLowerCase();
  entries.push(listen.includes(':') && !listen.startsWith('[') ? `[${listen}]` : listen);
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  for (const entry of entries) {
    if (splitHost(entry).port === null) anyPort.add(entry);
    else exact.add(entry);
  }
  return (host) => {
    if (host === undefined || host === '') return false;
    const h = host.trim().toLowerCase();
    return exact.has(h) || anyPort.has(splitHost(h).name);
  };
}

/** `name:port`, `[v6]:port`, `name` or `[v6]` into its name and port. */
function splitHost(host: string): { name: string; port: string | null } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(host);
  if (m === null) return { name: host, port: null };
  return { name: m[1]!, port: m[2] ?? null };
}
