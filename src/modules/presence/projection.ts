import type { Projection, ReadModelDatabase } from '../../store/index.js';
import { statement } from '../../store/index.js';
import { isPresenceEvent } from './domain/index.js';

/**
 * Read model `presence_visibility`, inline: every online list and every join or leave push
 * asks it whether the user is visible, and must see a change as soon as its command is
 * answered. A user without a row never hid. Statement keys are prefixed `presence:` since the
 * statement cache is shared by every projection.
 */
export const presenceProjection: Projection = {
  name: 'presence',
  mode: 'inline',
  tables: ['presence_visibility'],
  setup(db) {
    db.exec('CREATE TABLE IF NOT EXISTS presence_visibility (user_id TEXT PRIMARY KEY, visible INTEGER NOT NULL, set_at INTEGER NOT NULL)');
  },
  apply(db, event) {
    if (!isPresenceEvent(event)) return;
    const { userId, visible, setAt } = event.data;
    statement(
      db,
      'presence:set-visibility',
      'INSERT INTO presence_visibility (user_id, visible, set_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET visible = excluded.visible, set_at = excluded.set_at',
    ).run(userId, visible ? 1 : 0, setAt);
  },
};

/** Queries over the read model (`store.readModels`). */
export class PresenceVisibility {
  constructor(private readonly db: ReadModelDatabase) {}

  isVisible(userId: string): boolean {
    const row = statement(this.db, 'presence:q:visible', 'SELECT visible FROM presence_visibility WHERE user_id = ?').get(userId) as { visible: number } | undefined;
    return row === undefined || row.visible === 1;
  }
}
