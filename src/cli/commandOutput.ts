import { createWriteStream } from 'node:fs';

/** Where a command writes its lines: `--out FILE`, or standard output. */
export interface CommandOutput {
  /** Writes `text`, waiting when the stream asks to (a slow pipe or disk). */
  write(text: string): Promise<void>;
  /** Ends a file (flushed, its errors reported); standard output stays open. */
  close(): Promise<void>;
}

/**
 * `--out FILE` opened for writing, or `stdout` when `file` is undefined. The file is opened
 * here, so an unwritable path fails before anything is read: `cannot write --out FILE: …`.
 */
export async function openOutput(
  file: string | undefined,
  stdout: NodeJS.WritableStream,
): Promise<CommandOutput> {
  let out = stdout;
  if (file !== undefined) {
    const stream = createWriteStream(file);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (err) => reject(new Error(`cannot write --out ${file}: ${err.message}`)));
    });
    out = stream;
  }
  return {
    async write(text) {
      if (!out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
    },
    async close() {
      if (out === stdout) return;
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
    },
  };
}
