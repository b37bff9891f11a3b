import type { AnyStateMachine, SnapshotFrom } from 'xstate';
import type { NewEvent, RecordedEvent } from './events.js';

/**
 * One kind of stream: its XState machine is the `evolve` (events in, state out) and
 * `decide` turns a command into events, or throws an AppError, given the current snapshot.
 */
export interface AggregateDefinition<Machine extends AnyStateMachine, Command extends { type: string }> {
  /** Stream ids of this aggregate are `${category}-${id}`. */
  readonly category: string;
  readonly machine: Machine;
  decide(command: Command, snapshot: SnapshotFrom<Machine>): NewEvent[];
  /**
   * False for streams that die with the process (a connection's session): they are not
   * loaded at start, and are loaded from the log only if a command reaches them.
   */
  readonly rebuildAtStart?: boolean;
  /**
   * False for streams that take a command or two in their life (a connection, a session):
   * their actor is dropped after each command and reloaded from the log on the next one,
   * so ten thousand idle sockets do not hold ten thousand actors.
   */
  readonly keepInMemory?: boolean;
  /**
   * For streams worth keeping only in some states (a room while it is open): after each
   * command, read or committed event, an actor for which this is false is dropped, and it is
   * reloaded from the log if a command reaches it again. Must agree with `liveAfter`.
   */
  keepWhile?(snapshot: SnapshotFrom<Machine>): boolean;
  /**
   * A cheap filter for the start, from each event alone: true when the event makes the stream
   * worth keeping (a room opened), false when it ends that (closed), undefined when it changes
   * neither. With it, `rebuild` builds actors only for streams live at the log's end, instead
   * of every stream ever created only to drop most of them.
   */
  liveAfter?(event: RecordedEvent): boolean | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate = AggregateDefinition<AnyStateMachine, any>;
