import { PassThrough } from 'node:stream';
import type { CliIo } from '../../src/cli/CliIo.ts';

/** A CliIo whose stdout and stderr are collected, for command tests. */
export function captureIo(): { io: CliIo; stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c.toString()));
  stderr.on('data', (c: Buffer) => err.push(c.toString()));
  return {
    io: { stdin: new PassThrough(), stdout, stderr },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}
