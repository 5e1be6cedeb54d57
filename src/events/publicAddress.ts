import { lookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE is on: loopback, private,
 * link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, "this network",
 * multicast and reserved ranges, in IPv4, IPv6 and IPv4-mapped IPv6.
 */
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  NOT_PUBLIC.addSubnet(net, bits, 'ipv6');

/** Whether `address` (a literal IPv4 or IPv6 address) is a public one. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !NOT_PUBLIC.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return !NOT_PUBLIC.check(mapped[1]!, 'ipv4');
  return !NOT_PUBLIC.check(address, 'ipv6');
}

/** Raised when a webhook URL's host resolves to an address it may not reach. */
export class PrivateAddressError extends Error {
  override name = 'PrivateAddressError';
}

/**
 * A `lookup` for http.request that resolves as usual and refuses non-public addresses: the
 * check happens on the address the socket connects to, so a name that resolves to a public
 * address at configuration and a private one at delivery (DNS rebinding) is refused.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as unknown as { address: string; family: number }[];
    const bad = list.find((a) => !isPublicAddress(a.address));
    if (bad !== undefined)
      return callback(
        new PrivateAddressError(`${hostname} resolves to ${bad.address}, which is not a public address`),
        '',
        0,
      );
    if (options.all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};

/** Resolves `hostname` (or takes it as a literal address) and throws if any address is not public. */
export async function assertPublicHost(hostname: string): Promise<void> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    if (!isPublicAddress(host)) throw new PrivateAddressError(`${host} is not a public address`);
    return;
  }
  await new Promise<void>((resolve, reject) =>
    publicOnlyLookup(host, { all: true }, (err) => (err ? reject(err) : resolve())),
  );
}
