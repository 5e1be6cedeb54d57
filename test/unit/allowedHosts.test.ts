import { describe, expect, it } from 'vitest';
import { allowedHosts } from '../../src/web/allowedHosts.ts';

describe('allowedHosts (Host check against DNS rebinding)', () => {
  it('allows the defaults on any port and HTTP_HOST, and nothing that merely contains them', () => {
    const ok = allowedHosts('localhost,127.0.0.1,[::1]', '10.0.0.5');
    for (const host of [
      'localhost',
      'localhost:3000',
      '127.0.0.1:1',
      '[::1]',
      '[::1]:3000',
      '10.0.0.5:3000',
      'LocalHost',
    ])
      expect(ok(host), host).toBe(true);
    for (const host of [
      undefined,
      '',
      'evil.example',
      'localhost.evil.example',
      'evil.example:localhost',
      '127.0.0.2',
    ])
      expect(ok(host), String(host)).toBe(false);
  });

  it('pins the port when an entry names one; brackets an IPv6 HTTP_HOST; * allows all', () => {
    const ok = allowedHosts('api.example.com:8443', '::1');
    expect(ok('api.example.com:8443')).toBe(true);
    expect(ok('api.example.com:443')).toBe(false);
    expect(ok('api.example.com')).toBe(false);
    expect(ok('[::1]:3000')).toBe(true);
    expect(allowedHosts('*', '127.0.0.1')('anything')).toBe(true);
  });
});
