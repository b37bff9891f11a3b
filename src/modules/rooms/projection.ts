import { isRoomEvent } from './domain/index.js';
import type { Projection } from '../../store/index.js';
import { statement } from '../../store/index.js';

/**
 * Read models `rooms` (one row per room name: its current or last incarnation) and
 * `room_bans`. Inline, so the room API and audits see the log's state at once; and the
 * property test compares them after replay with the live ones.
 */
export const roomsProjection: Projection = {
  name: 'rooms',
  mode: 'inline',
  tables: ['rooms', 'room_bans'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS rooms (
        room TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT, members INTEGER NOT NULL,
        user_data TEXT, created_at INTEGER NOT NULL, closed_reason TEXT);
      CREATE TABLE IF NOT EXISTS room_bans (
        room TEXT NOT NULL, user_key TEXT NOT NULL, until INTEGER, PRIMARY KEY (room, user_key));
    `);
  },
  apply(db, event) {
    if (!isRoomEvent(event)) return;
    switch (event.type) {
      case 'RoomCreated':
        statement(db, 'room:create', `INSERT INTO rooms (room, status, owner, members, created_at) VALUES (?, 'open', ?, 1, ?)
          ON CONFLICT(room) DO UPDATE SET status = 'open', owner = excluded.owner, members = 1, user_data = NULL,
            created_at = excluded.created_at, closed_reason = NULL`).run(event.data.room, event.data.owner.peerId, event.data.createdAt);
        return;
      case 'JoinApproved':
      case 'MemberAdmitted':
        statement(db, 'room:join', 'UPDATE rooms SET members = members + 1 WHERE room = ?').run(event.data.room);
        return;
      case 'MemberLeft':
        statement(db, 'room:leave', 'UPDATE rooms SET members = members - 1 WHERE room = ?').run(event.data.room);
        return;
      case 'OwnerChanged':
        statement(db, 'room:owner', 'UPDATE rooms SET owner = ? WHERE room = ?').run(event.data.peerId, event.data.room);
        return;
      case 'RoomUpdated':
        statement(db, 'room:update', 'UPDATE rooms SET user_data = ? WHERE room = ?').run(JSON.stringify(event.data.userData), event.data.room);
        return;
      case 'RoomClosed':
        statement(db, 'room:close', "UPDATE rooms SET status = 'closed', members = 0, closed_reason = ? WHERE room = ?").run(event.data.reason, event.data.room);
        return;
      case 'MemberBanned':
        statement(db, 'room:ban', 'INSERT INTO room_bans VALUES (?, ?, ?) ON CONFLICT(room, user_key) DO UPDATE SET until = excluded.until').run(
          event.data.room,
          event.data.userKey,
          event.data.until,
        );
        return;
      default:
        return;
    }
  },
};
