import { initialTransition, transition, type AnyStateMachine, type EventFromLogic, type SnapshotFrom } from 'xstate';
import { expect } from 'vitest';
import type { AggregateDefinition } from '../../src/core/decider.js';
import { AppError, type ErrorCode } from '../../src/core/errors.js';
import { toMachineEvent } from '../../src/runtime/actor-runtime.js';

/**
 * Given/when/then for an aggregate's decide, with its machine as the evolve:
 *
 *   const spec = deciderSpec(roomAggregate);
 *   spec.given([created]).when(join).then([requested]);       // exactly these events
 *   spec.given([created]).when(create).thenThrows('CONFLICT'); // refused with this code
 *   spec.given([created]).when(join).after.state.context;     // the state they lead to
 *
 * Evolve is XState's pure `transition()`, not a started actor: no clock, no store, no
 * subscriptions, so a spec is a function of its events and command only, and a snapshot can
 * be reused (decide against it twice, branch two histories off it) without side effects.
 */

/** An event as domain code writes it (`{type, data}`); the spec stamps what the store adds. */
export type SpecEvent<Machine extends AnyStateMachine> = EventFromLogic<Machine>;

export interface Scenario<Machine extends AnyStateMachine, Command extends { type: string }> {
  /** The state the runtime would hold after this history. */
  readonly state: SnapshotFrom<Machine>;
  /** The stream's version: how many events the history has. */
  readonly version: number;
  /** "Given this, and then these events": more history on top. */
  and(events: readonly SpecEvent<Machine>[]): Scenario<Machine, Command>;
  when(command: Command): Outcome<Machine, Command>;
}

export interface Outcome<Machine extends AnyStateMachine, Command extends { type: string }> {
  /** What decide returned (decided on first read); a refusal is rethrown. */
  readonly events: SpecEvent<Machine>[];
  /** The history with the decided events applied, as the runtime does after the append. */
  readonly after: Scenario<Machine, Command>;
  /** Asserts decide returned exactly these events; returns `after`, to assert on or go on from. */
  then(expected: readonly SpecEvent<Machine>[]): Scenario<Machine, Command>;
  /** Asserts decide refused with an AppError of this code (and message: exact, or a pattern). */
  thenThrows(code: ErrorCode, message?: string | RegExp): AppError;
}

/** The scenario type of an aggregate, for helpers that take or return one. */
export type ScenarioOf<Aggregate> = Aggregate extends AggregateDefinition<infer Machine, infer Command> ? Scenario<Machine, Command> : never;

// The store stamps each event with its append time. No machine reads it, and a fixed value
// keeps every spec deterministic.
const RECORDED_AT = 0;

export function deciderSpec<Machine extends AnyStateMachine, Command extends { type: string }>(
  aggregate: AggregateDefinition<Machine, Command>,
): { given(events?: readonly SpecEvent<Machine>[]): Scenario<Machine, Command> } {
  const { machine } = aggregate;

  const scenario = (state: SnapshotFrom<Machine>, version: number): Scenario<Machine, Command> => {
    const self: Scenario<Machine, Command> = {
      state,
      version,
      and(events) {
        let next = state;
        let at = version;
        for (const event of events) {
          at += 1;
          // The machine gets what the runtime sends it (toMachineEvent of the recorded event),
          // so a machine that read `version` would see the same numbers here as in production.
          const recorded = { ...event, position: at, streamId: `${aggregate.category}-spec`, version: at, metadata: {}, recordedAt: RECORDED_AT };
          [next] = transition(machine, next, toMachineEvent(recorded) as SpecEvent<Machine>);
        }
        return scenario(next, at);
      },
      when: (command) => outcome(self, command),
    };
    return self;
  };

  const outcome = (before: Scenario<Machine, Command>, command: Command): Outcome<Machine, Command> => {
    let decided: SpecEvent<Machine>[] | undefined;
    let after: Scenario<Machine, Command> | undefined;
    // Decide runs lazily, so `thenThrows` can catch it; the events decide builds are the
    // machine's own event type (the aggregate only widens them to NewEvent for the store).
    const decide = () => (decided ??= aggregate.decide(command, before.state) as SpecEvent<Machine>[]);
    const evolve = () => (after ??= before.and(decide()));
    return {
      get events() {
        return decide();
      },
      get after() {
        return evolve();
      },
      then(expected) {
        // An object with `then` looks like a promise to `await` and to vitest (if a test returns
        // it): fail loudly rather than be called with a resolve callback.
        if (!Array.isArray(expected)) throw new TypeError('then() takes the expected events; an Outcome is not a promise');
        expect(decide()).toEqual(expected);
        return evolve();
      },
      thenThrows(code, message) {
        let events: unknown;
        try {
          events = decide();
        } catch (error) {
          expect(error).toBeInstanceOf(AppError);
          const refusal = error as AppError;
          expect(refusal.code, refusal.message).toBe(code);
          if (typeof message === 'string') expect(refusal.message).toBe(message);
          else if (message) expect(refusal.message).toMatch(message);
          return refusal;
        }
        throw new Error(`expected ${command.type} to be refused with ${code}, but decide returned ${JSON.stringify(events)}`);
      },
    };
  };

  return {
    given(events = []) {
      // Aggregate machines take no input (the runtime starts them without one); for a generic
      // Machine TypeScript cannot know that, hence the widening.
      const [initial] = initialTransition(machine as AnyStateMachine) as [SnapshotFrom<Machine>, unknown];
      return scenario(initial, 0).and(events);
    },
  };
}
