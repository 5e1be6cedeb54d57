import {
  assign,
  createActor,
  setup,
  type AnyActorScope,
  type AnyStateMachine,
  type SnapshotFrom,
} from 'xstate';
import { applyEntryTick } from './applyEntryTick.ts';
import { applyExitTick } from './applyExitTick.ts';
import { catchUpInPlace } from './position.ts';
import type { CatchUp, SignalEvent } from './events.ts';
import { applyAmend, applyCancel, applyManualExit, operationErrors } from './operations.ts';
import { cloneContext, initialContext, type NormalizedSignal, type SignalContext } from './signalContext.ts';
import { applySweep, sweepDue } from './sweep.ts';

const NO_CONTEXT = {} as SignalContext;

/**
 * The signal lifecycle, `pending → open → partial → closed` (SPEC.md "Lifecycle").
 *
 * Market time comes from the events; there are no `after` delays (they are neither restored
 * from snapshots nor replayable). Each event runs one pure rule function from this folder
 * over the context; the eventless transitions then move the state to the phase the rules
 * reached, so one tick can take a signal from pending straight to closed. Operations that
 * do not apply (see `operationErrors`) are guarded out and change nothing.
 */
const machineSetup = setup({
  types: {
    context: {} as SignalContext,
    events: {} as SignalEvent,
    input: {} as NormalizedSignal,
  },
  guards: {
    reachedOpen: ({ context }) => context.phase === 'open',
    reachedPartial: ({ context }) => context.phase === 'partial',
    reachedClosed: ({ context }) => context.phase === 'closed',
    operationApplies: ({ context, event }) =>
      (event.type === 'EXIT' || event.type === 'CANCEL' || event.type === 'AMEND') &&
      operationErrors(context, event, event.last ?? context.lastP).length === 0,
    sweepDue: ({ context, event }) => event.type === 'SWEEP' && sweepDue(context, event),
  },
  actions: {
    enterOnTick: assign(({ context, event }) =>
      event.type === 'TICK' ? applyEntryTick(context, event) : {},
    ),
    exitOnTick: assign(({ context, event }) => (event.type === 'TICK' ? applyExitTick(context, event) : {})),
    cancel: assign(({ context, event }) =>
      event.type === 'EXIT' || event.type === 'CANCEL' ? applyCancel(context, event) : {},
    ),
    exitManually: assign(({ context, event }) =>
      event.type === 'EXIT' || event.type === 'CANCEL' ? applyManualExit(context, event) : {},
    ),
    amend: assign(({ context, event }) => (event.type === 'AMEND' ? applyAmend(context, event) : {})),
    sweep: assign(({ context, event }) => (event.type === 'SWEEP' ? applySweep(context, event) : {})),
    sync: assign(({ context, event }) => syncSignal(context, event)),
  },
});

/** Open and partial signals take the same events: exits on ticks, a manual exit, amends. */
const whileFilled = {
  TICK: { actions: 'exitOnTick' },
  EXIT: { guard: 'operationApplies', actions: 'exitManually' },
  CANCEL: { guard: 'operationApplies', actions: 'exitManually' },
  AMEND: { guard: 'operationApplies', actions: 'amend' },
  SWEEP: { guard: 'sweepDue', actions: 'sweep' },
  SYNC: { actions: 'sync' },
} as const;

export const signalMachine = machineSetup.createMachine({
  id: 'signal',
  // XState's pure transition() builds a throwaway actor, and with it an initial context,
  // on every call; without input that context is never used, so it must cost nothing.
  context: ({ input }) => (input === undefined ? NO_CONTEXT : initialContext(input)),
  initial: 'pending',
  states: {
    pending: {
      always: [
        { guard: 'reachedClosed', target: 'closed' },
        { guard: 'reachedOpen', target: 'open' },
      ],
      on: {
        TICK: { actions: 'enterOnTick' },
        EXIT: { guard: 'operationApplies', actions: 'cancel' },
        CANCEL: { guard: 'operationApplies', actions: 'cancel' },
        AMEND: { guard: 'operationApplies', actions: 'amend' },
        SWEEP: { guard: 'sweepDue', actions: 'sweep' },
      },
    },
    open: {
      always: [
        { guard: 'reachedClosed', target: 'closed' },
        { guard: 'reachedPartial', target: 'partial' },
      ],
      on: whileFilled,
    },
    partial: {
      always: [{ guard: 'reachedClosed', target: 'closed' }],
      on: whileFilled,
    },
    closed: { type: 'final' },
  },
});

export type SignalSnapshot = SnapshotFrom<typeof signalMachine>;

/** The persisted form of a signal: XState's `{ value, context }`, plain JSON. */
export interface PersistedSignal {
  value: SignalContext['phase'];
  context: SignalContext;
}

/** A snapshot restored from its context (the state value is the context's phase). */
export function restoreSignal(context: SignalContext): SignalSnapshot {
  return signalMachine.resolveState({ value: context.phase, context });
}

/** The persisted snapshot of a signal. */
export function persistSignal(context: SignalContext): PersistedSignal {
  return { value: context.phase, context };
}

/** The initial snapshot of a newly accepted signal. */
export function startSignal(signal: NormalizedSignal): SignalContext {
  return signalMachine.resolveState({ value: 'pending', context: initialContext(signal) }).context;
}

let inertScope: AnyActorScope | undefined;

/**
 * The actor scope for pure transitions. XState's `transition()` builds a fresh inert actor
 * for every call (about 10 µs, more than the rules themselves); the machine only assigns
 * context, executes no actions and spawns nothing, so one inert scope serves every call.
 * It is the same object `transition()` builds.
 */
function pureScope(): AnyActorScope {
  if (inertScope === undefined) {
    const self = createActor(signalMachine as AnyStateMachine);
    inertScope = {
      self,
      defer: () => {},
      id: '',
      logger: () => {},
      sessionId: '',
      stopChild: () => {},
      system: self.system,
      emit: () => {},
      actionExecutor: () => {},
    } as AnyActorScope;
  }
  return inertScope;
}

/**
 * The context a SYNC event gives (`sendToSignal(context, { type: 'SYNC', ...catchUp })`),
 * computed without running the machine. In every state SYNC's only transition is the `sync`
 * action, this function, and it moves no phase, so no eventless transition follows: the
 * machine adds only its own bookkeeping, which cost ten times the fold when a restored shard
 * caught up its trailing signals (test/unit/signalMachine.sync.test.ts holds the two equal).
 */
export function syncSignal(context: SignalContext, catchUp: CatchUp): SignalContext {
  const c = cloneContext(context);
  catchUpInPlace(c, catchUp);
  return c;
}

/**
 * Runs one event through the machine as a pure transition (like XState's `transition()`,
 * nothing executed, nothing retained) and returns the new context.
 */
export function sendToSignal(context: SignalContext, event: SignalEvent): SignalContext {
  return signalMachine.transition(restoreSignal(context), event, pureScope()).context;
}
