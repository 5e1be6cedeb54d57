import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { loggerOptions } from '../../src/processes/bootstrap.ts';

/**
 * A logger built as every process builds its own (loggerOptions: its redaction included), at
 * `level`, whose lines are kept: `output()` is everything written so far.
 */
export function captureLog(
  name: string,
  level: 'trace' | 'info' = 'trace',
): { log: Logger; output: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino(loggerOptions({ LOG_LEVEL: level }, name), sink), output: () => lines.join('') };
}
