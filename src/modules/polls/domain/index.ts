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
  // A person answers a poll a few times: their stream (a handful of events) is read when an
  // answer comes and dropped after it, so a thousand-strong audience holds no actors.
  rebuildAtStart: false,
  keepInMemory: false,
};
