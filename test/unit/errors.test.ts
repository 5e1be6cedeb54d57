import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coerceError, describeErrors, ERROR_CODE_LIST, trackerError } from '../../src/errors.ts';

describe('the error catalogue', () => {
  it('documents exactly the codes the code has (docs/ERRORS.md)', () => {
    const doc = readFileSync(new URL('../../docs/ERRORS.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ERROR_CODE_LIST].sort());
  });

  it('coerceError keeps a tracker error and never gives an empty message', () => {
    const rejection = trackerError('SIGNAL_CLOSED', 'signal s1 is already closed');
    expect(coerceError(rejection)).toEqual(rejection);
    expect(coerceError(Object.assign(new Error('too far'), { code: 'EXIT_PRICE_FAR' }))).toEqual({
      code: 'EXIT_PRICE_FAR',
      message: 'too far',
    });
    expect(coerceError(new Error('boom'))).toEqual({ code: 'UNEXPECTED', message: 'boom' });
    // Node's connection errors: an empty message, a code; IPv4 and IPv6 tried at once.
    const refused = Object.assign(new Error(''), { code: 'ECONNREFUSED' });
    expect(coerceError(refused).message).toBe('ECONNREFUSED');
    expect(coerceError(new AggregateError([new Error('a'), new Error('b')], '')).message).toBe('a; b');
    expect(coerceError(new TypeError()).message).toBe('TypeError');
    expect(coerceError('plain text')).toEqual({ code: 'UNEXPECTED', message: 'plain text' });
    expect(coerceError(undefined).message).toBe('undefined');
    // A foreign code (a PostgreSQL SQLSTATE) is not one of ours.
    expect(coerceError(Object.assign(new Error('deadlock'), { code: '40P01' })).code).toBe('UNEXPECTED');
  });

  it('describes errors for a job failure or stderr as "message [CODE]"', () => {
    expect(
      describeErrors([trackerError('PAYLOAD_SCHEMA', 'side: is required'), trackerError('ROI_ORDER', 'roi')]),
    ).toBe('side: is required [PAYLOAD_SCHEMA]; roi [ROI_ORDER]');
  });
});
