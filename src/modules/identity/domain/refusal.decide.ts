import type { SnapshotFrom } from 'xstate';
import { AppError } from '../../../core/index.js';
import type { RefusalCommand } from './refusal.commands.js';
import type { RefusalEvent } from './refusal.events.js';
import type { refusalMachine } from './refusal.machine.js';

export function decideRefusals(command: RefusalCommand, snapshot: SnapshotFrom<typeof refusalMachine>): RefusalEvent[] {
  if (snapshot.status === 'done') throw new AppError('CONFLICT', 'this refusal window is already summarised');
  if (command.summary.count <= 0) return [];
  return [{ type: 'RefusalsSummarised', data: command.summary }];
}
