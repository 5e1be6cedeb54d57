/**
 * The tick path creates no named function a tick, under tsx as the processes run it
 * (test/support/tickPathNamings.ts says how it is counted and why it matters).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../support/tickPathNamings.ts', import.meta.url));

describe('the tick path under tsx', () => {
  it('names as many functions for a job of 1,600 ticks as for one of 400', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', SCRIPT], {
      encoding: 'utf8',
    });
    const counts = JSON.parse(out) as { probe: number; small: number; large: number };
    // The count sees tsx's naming: a helper declared inside a function, called twice.
    expect(counts.probe).toBe(2);
    expect(counts.large).toBe(counts.small);
  });
});
