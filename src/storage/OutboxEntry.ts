import type { Operation, OutcomeLine } from '../../machines/types.ts';
import type { ErrorCode } from '../errors.ts';

/**
 * What a shard hands to the flusher through its outbox (a Redis hash, keyed so that writing
 * an entry twice is harmless), and what writeOutboxBatch stores. Entries leave the outbox only
 * after PostgreSQL has committed them. Defined here, beneath both, so that storage needs
 * nothing from src/live.
 */
export type OutboxEntry =
  | {
      kind: 'closed';
      symbol: string;
      outcome: OutcomeLine;
      /**
       * Wall time (epoch ms) of the checkpoint that closed it, for the close-to-commit latency
       * metric (docs/OPERATIONS.md "Metrics"); absent in entries written by older versions.
       */
      closedWallMs?: number;
    }
  | {
      kind: 'op';
      op: Operation;
      applied: boolean;
      /** Why it was rejected ([] when applied): the messages… */
      errors: string[];
      /** …and their codes, one per message (docs/ERRORS.md); absent in entries written before codes were. */
      codes?: ErrorCode[];
    }
  | {
      kind: 'catchup_gap';
      id: string;
      symbol: string;
      createdAt: number;
      /** Latest tick time that had already left the recent-tick buffer. */
      missedUpTo: number;
    }
  | {
      /**
       * A signal event for the events stream (fill, leg, stop move), not stored in PostgreSQL:
       * the flusher publishes it once the batch that carries it has committed (an output gate).
       */
      kind: 'event';
      type: 'signal.filled' | 'signal.leg' | 'signal.stop_moved';
      id: string;
      symbol: string;
      /** Market time, epoch ms. */
      ts: number;
      data: Record<string, unknown>;
    };
