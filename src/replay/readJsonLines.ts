import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { coerceError } from '../errors.ts';

/** A line of a JSON-lines file that is not JSON; it stays in place so that its position is reported. */
export class UnparsableLine {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {}
  get message(): string {
    return `line ${this.line}: not valid JSON (${this.reason})`;
  }
}

/** Every non-blank line of a JSON-lines file, parsed, or an `UnparsableLine` in its place. */
export async function readJsonLines(file: string): Promise<unknown[]> {
  const out: unknown[] = [];
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    // SPEC.md: a byte-order mark at the start of the file is ignored (editors on Windows add one).
    const line = n === 1 && raw.startsWith('\uFEFF') ? raw.slice(1) : raw;
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch (err) {
      out.push(new UnparsableLine(n, coerceError(err).message));
    }
  }
  return out;
}
