/**
 * What every process's logger hides (loggerOptions): credentials in headers, fields named key,
 * password or secret, and a logged error's `detail`, where PostgreSQL repeats a refused row.
 */
import { describe, expect, it } from 'vitest';
import { captureLog } from '../support/captureLog.ts';

describe('log redaction', () => {
  it("keeps a PostgreSQL error's message and code but not its detail (the refused row's values)", () => {
    const { log, output } = captureLog('test', 'info');
    const err = Object.assign(new Error('new row for relation "webhooks" violates check constraint'), {
      code: '23514',
      detail: 'Failing row contains (7, acme, https://example.com/h, {}, whsec_do-not-log-me, …).',
    });
    log.error({ err }, 'request failed');
    const line = JSON.parse(output()) as { err: { message: string; code: string; detail: string } };
    expect(line.err.message).toMatch(/violates check constraint/);
    expect(line.err.code).toBe('23514');
    expect(line.err.detail).toBe('[redacted]');
    expect(output()).not.toContain('whsec_do-not-log-me');
  });

  it('hides credentials in request headers and fields named key, password or secret', () => {
    const { log, output } = captureLog('test', 'info');
    log.info(
      {
        req: {
          headers: {
            authorization: 'Bearer otk_1',
            cookie: 'session=otk_2',
            'proxy-authorization': 'Basic x',
          },
        },
        key: 'otk_3',
        webhook: { secret: 'whsec_4' },
        db: { password: 'pw_5' },
        keyId: 'k-1',
      },
      'hello',
    );
    for (const s of ['otk_1', 'otk_2', 'Basic x', 'otk_3', 'whsec_4', 'pw_5'])
      expect(output()).not.toContain(s);
    expect(output()).toContain('"keyId":"k-1"');
  });
});
