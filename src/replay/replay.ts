import { echoId } from '../../machines/echoId.ts';
import { signalClosed, signalUnknown } from '../../machines/operations.ts';
import { outcomeLine } from '../../machines/outcomeLine.ts';
import type { SignalContext } from '../../machines/signalContext.ts';
import { startSignal } from '../../machines/signalMachine.ts';
import type { Operation, OutcomeLine, RejectedLine, Tick } from '../../machines/types.ts';
import { UnparsableLine } from './readJsonLines.ts';
import { Engine } from '../engine/Engine.ts';
import { messagesOf, trackerError, type TrackerError } from '../errors.ts';
import { validateOperation } from '../validation/validateOperation.ts';
import { validateSignal } from '../validation/validateSignal.ts';

export interface ReplayInput {
  /** Signal payloads in input order (anything: invalid ones become rejected lines). */
  signals: unknown[];
  ticks: Iterable<Tick> | AsyncIterable<Tick>;
  /** Operations in arrival (file) order. */
  ops?: unknown[];
}

export interface RejectedOperation {
  op: unknown;
  errors: TrackerError[];
}

/** A rejected input signal with its coded reasons (its output line carries the messages alone). */
export interface RejectedSignal {
  /** Position among the input signals. */
  index: number;
  id: string | null;
  errors: TrackerError[];
}

export interface ReplayResult {
  /** One line per input signal, in input order. */
  lines: (OutcomeLine | RejectedLine)[];
  rejectedSignals: number;
  /** The rejected signals of `lines`, in input order, with each reason's code. */
  signalRejections: RejectedSignal[];
  rejectedOps: RejectedOperation[];
  appliedTicks: number;
  lateTicks: number;
}

/**
 * Offline, deterministic evaluation (SPEC.md): every signal is accepted or rejected first,
 * then ticks are applied in order through the same engine as the live workers, each
 * operation after the ticks of its symbol with ts <= its own. No sweep: unfinished signals
 * are reported as they stand at the end of the data.
 */
export async function replay(input: ReplayInput): Promise<ReplayResult> {
  const session = new ReplaySession(input.signals, input.ops ?? []);
  for await (const tick of input.ticks) session.applyTick(tick);
  return session.finish();
}

/** `replay` over ticks already in memory. */
export function replaySync(input: ReplayInput & { ticks: Iterable<Tick> }): ReplayResult {
  const session = new ReplaySession(input.signals, input.ops ?? []);
  for (const tick of input.ticks) session.applyTick(tick);
  return session.finish();
}

/** One replay: signals registered up front, ticks fed in order, results at the end. */
export class ReplaySession {
  private readonly closed = new Map<string, SignalContext>();
  private readonly engine = new Engine({ onClose: (c) => this.closed.set(c.id, c) });
  /** Per input signal: its id when accepted, its rejection otherwise. */
  private readonly order: (string | RejectedSignal)[] = [];
  private readonly rejectedOps: RejectedOperation[] = [];
  /** Operations waiting in per-symbol queues, in ts order (stable: equal ts keep file order). */
  private readonly queues = new Map<string, { ops: Operation[]; next: number }>();
  private appliedTicks = 0;

  constructor(signals: unknown[], ops: unknown[]) {
    const symbolOf = new Map<string, string>();
    for (const [index, payload] of signals.entries()) {
      if (payload instanceof UnparsableLine) {
        this.order.push({ index, id: null, errors: [trackerError('PAYLOAD_NOT_JSON', payload.message)] });
        continue;
      }
      const result = validateSignal(payload);
      if (!result.ok) {
        this.order.push({ index, id: result.id, errors: result.errors });
        continue;
      }
      const { signal } = result;
      if (symbolOf.has(signal.id)) {
        this.order.push({
          index,
          id: signal.id,
          errors: [trackerError('DUPLICATE_ID', `id: ${echoId(signal.id)} repeats an earlier signal's id`)],
        });
        continue;
      }
      symbolOf.set(signal.id, signal.symbol);
      this.engine.add(startSignal(signal));
      this.order.push(signal.id);
    }
    for (const raw of ops) {
      if (raw instanceof UnparsableLine) {
        this.rejectedOps.push({ op: null, errors: [trackerError('PAYLOAD_NOT_JSON', raw.message)] });
        continue;
      }
      const checked = validateOperation(raw);
      if (!checked.ok) {
        this.rejectedOps.push({ op: raw, errors: checked.errors });
        continue;
      }
      const symbol = symbolOf.get(checked.op.id);
      if (symbol === undefined) {
        this.rejectedOps.push({ op: raw, errors: [signalUnknown(checked.op.id)] });
        continue;
      }
      let queue = this.queues.get(symbol);
      if (queue === undefined) this.queues.set(symbol, (queue = { ops: [], next: 0 }));
      queue.ops.push(checked.op);
    }
    for (const queue of this.queues.values()) queue.ops.sort((a, b) => a.ts - b.ts);
  }

  applyTick(input: Tick): void {
    // Symbols are upper case (SPEC.md); the readers normalise, in-memory callers may not.
    const upper = input.symbol.toUpperCase();
    const tick = upper === input.symbol ? input : { ...input, symbol: upper };
    // An operation applies after the ticks of its symbol with ts <= its own: so before the
    // first applied (not late) tick that is later than it.
    if (tick.ts >= this.engine.book(tick.symbol).lastTs) this.applyOpsBefore(tick.symbol, tick.ts);
    if (this.engine.applyTick(tick)) this.appliedTicks++;
  }

  finish(): ReplayResult {
    for (const symbol of this.queues.keys()) this.applyOpsBefore(symbol, Infinity);
    const lines = this.order.map((entry): OutcomeLine | RejectedLine =>
      typeof entry === 'string'
        ? outcomeLine(this.closed.get(entry) ?? this.engine.current(entry)!)
        : { id: entry.id, state: 'rejected', errors: messagesOf(entry.errors) },
    );
    const signalRejections = this.order.filter((e): e is RejectedSignal => typeof e !== 'string');
    return {
      lines,
      rejectedSignals: signalRejections.length,
      signalRejections,
      rejectedOps: this.rejectedOps,
      appliedTicks: this.appliedTicks,
      lateTicks: this.engine.lateTicks,
    };
  }

  private applyOpsBefore(symbol: string, ts: number): void {
    const queue = this.queues.get(symbol);
    if (queue === undefined) return;
    for (; queue.next < queue.ops.length && queue.ops[queue.next]!.ts < ts; queue.next++) {
      const op = queue.ops[queue.next]!;
      const errors = this.closed.has(op.id) ? [signalClosed(op.id)] : this.engine.applyOperation(op);
      if (errors.length > 0) this.rejectedOps.push({ op, errors });
    }
  }
}
