/** A process's wiring, running: `close` stops what it started (not the clients it was given). */
export interface Running {
  close(): Promise<void>;
}
