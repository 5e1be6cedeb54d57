/** Progress of a long read, shown on a terminal only. */
export interface Progress {
  /** Called per tick read; redraws at most every `intervalMs`. */
  update(rows: number, ticks: number): void;
  /** Clears the progress line. */
  done(): void;
}

const QUIET: Progress = { update() {}, done() {} };

/**
 * A one-line progress display (`replay: 1,200,000 rows, 410,000 ticks/s`) on `stream`, redrawn
 * in place, when `stream` is a terminal; nothing at all when it is a file or a pipe, so that
 * logs and scripts see only the final summary.
 */
export function createProgress(
  stream: NodeJS.WritableStream,
  label: string,
  { now = Date.now, intervalMs = 1000 }: { now?: () => number; intervalMs?: number } = {},
): Progress {
  if ((stream as { isTTY?: boolean }).isTTY !== true) return QUIET;
  const started = now();
  let next = started + intervalMs;
  let calls = 0;
  let shown = false;
  return {
    update(rows, ticks) {
      // Reading the clock for every tick would cost more than the display is worth.
      if ((++calls & 1023) !== 0) return;
      const t = now();
      if (t < next) return;
      next = t + intervalMs;
      const rate = Math.round(ticks / Math.max((t - started) / 1000, 1e-3));
      stream.write(
        `\r\x1b[K${label}: ${rows.toLocaleString('en-US')} rows, ${rate.toLocaleString('en-US')} ticks/s`,
      );
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
