import type { AggregateDefinition } from '../../../core/index.js';
import type { PollAnswerCommand, PollCommand } from './poll.commands.js';
import { decidePoll } from './poll.decide.js';
import { POLL_CATEGORY } from './poll.events.js';
import { pollMachine } from './poll.machine.js';
import { decidePollAnswer } from './poll-answer.decide.js';
import { POLL_ANSWERS_CATEGORY } from './poll-answer.events.js';
import { pollAnswersMachine } from './poll-answer.machine.js';

export * from './poll.events.js';
export * from './poll-answer.events.js';
export * from './poll.commands.js';
export { pollMachine, type AskedQuestion, type PollContext } from './poll.machine.js';
export { pollAnswersMachine, type PollAnswersContext } from './poll-answer.machine.js';
export { decidePoll, fieldError, type PollSnapshot } from './poll.decide.js';
export { decidePollAnswer, scoreOf, MAX_POINTS, type PollAnswersSnapshot } from './poll-answer.decide.js';

export const pollAggregate: AggregateDefinition<typeof pollMachine, PollCommand> = {
  category: POLL_CATEGORY,
  machine: pollMachine,
  decide: decidePoll,
  // Every answer checks its question against this state, so a poll with an open question
  // stays in memory; one with none is dropped, and loaded from its stream when asked again.
  keepWhile: (snapshot) => snapshot.context.open.length > 0,
};

export const pollAnswersAggregate: AggregateDefinition<typeof pollAnswersMachine, PollAnswerCommand> = {
  category: POLL_ANSWERS_CATEGORY,
  machine: pollAnswersMachine,
  decide: decidePollAnswer,
  // Loaded at a person's first answer and kept while they answer: rebuilding the stream for
  // every answer cost a third of the gateway's CPU on a 100-question quiz (bench/RESULTS.md).
  // The polls module sweeps idle ones (pollAnswerActorIdleSeconds, pollAnswerActorsMax), so a
  // large audience does not hold its actors after the poll.
  rebuildAtStart: false,
};
