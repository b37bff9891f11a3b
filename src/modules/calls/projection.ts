import type { CallPartyStatus, CallRole, CallStatus } from '../../protocol/topics/calls.js';
import { statement, type Projection, type ReadModelDatabase } from '../../store/index.js';
import { isCallEvent, type CallMode } from './domain/index.js';

/**
 * Read models `calls` (one row per call: where it stands) and `call_parties` (who is or was
 * in it). Inline, so an answer right after a command reads what it did, and `replay`
 * rebuilds both from the log alone (nothing here reads the clock or the process).
 */
export const callsProjection: Projection = {
  name: 'calls',
  mode: 'inline',
  tables: ['calls', 'call_parties'],
  setup(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS calls (
        instance_id TEXT PRIMARY KEY, item_id TEXT NOT NULL, organisation_id TEXT NOT NULL, mode TEXT NOT NULL,
        status TEXT NOT NULL, host TEXT NOT NULL, operator TEXT, callback INTEGER NOT NULL DEFAULT 0,
        offered_to TEXT, offer_expires_at INTEGER, max_participants INTEGER,
        started_at INTEGER NOT NULL, queued_at INTEGER, ended_at INTEGER, end_reason TEXT, ended_by TEXT);
      CREATE INDEX IF NOT EXISTS calls_by_item ON calls (item_id, status);
      CREATE TABLE IF NOT EXISTS call_parties (
        instance_id TEXT NOT NULL, party TEXT NOT NULL, role TEXT NOT NULL, status TEXT NOT NULL, peer_id TEXT,
        PRIMARY KEY (instance_id, party));
      CREATE INDEX IF NOT EXISTS call_parties_by_party ON call_parties (party, instance_id);
    `);
  },
  apply(db, event) {
    if (!isCallEvent(event)) return;
    const instance = event.data.instanceId;
    const setParty = (party: string, role: CallRole, status: CallPartyStatus, peerId: string | null, keepRole: boolean) =>
      statement(
        db,
        keepRole ? 'calls:party-keep-role' : 'calls:party',
        `INSERT INTO call_parties (instance_id, party, role, status, peer_id) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(instance_id, party) DO UPDATE SET ${keepRole ? '' : 'role = excluded.role, '}status = excluded.status, peer_id = excluded.peer_id`,
      ).run(instance, party, role, status, peerId);
    const setStatus = (status: CallStatus) => statement(db, 'calls:status', 'UPDATE calls SET status = ? WHERE instance_id = ?').run(status, instance);
    switch (event.type) {
      case 'CallStarted': {
        const { itemId, organisationId, mode, host, maxParticipants, startedAt } = event.data;
        const status: CallStatus = mode === 'instant' ? 'ringing' : mode === 'group' ? 'active' : 'queued';
        statement(
          db,
          'calls:start',
          `INSERT INTO calls (instance_id, item_id, organisation_id, mode, status, host, max_participants, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(instance, itemId, organisationId, mode, status, host, maxParticipants, startedAt);
        return;
      }
      case 'CallRinging':
        for (const party of event.data.parties) setParty(party, 'participant', 'ringing', null, true);
        return;
      case 'CallAccepted':
        statement(db, 'calls:accepted', "UPDATE calls SET status = 'active' WHERE instance_id = ? AND status = 'ringing'").run(instance);
        return;
      case 'CallJoined':
        setParty(event.data.party, event.data.role, 'joined', event.data.peerId, false);
        return;
      case 'CallLeft':
        setParty(event.data.party, 'participant', 'left', null, true);
        return;
      case 'CallQueued':
        statement(db, 'calls:queued', 'UPDATE calls SET queued_at = ? WHERE instance_id = ?').run(event.data.queuedAt, instance);
        return;
      case 'CallOffered':
        statement(db, 'calls:offered', 'UPDATE calls SET offered_to = ?, offer_expires_at = ? WHERE instance_id = ?').run(event.data.operator, event.data.expiresAt, instance);
        return;
      case 'CallOfferExpired':
        statement(db, 'calls:offer-ended', 'UPDATE calls SET offered_to = NULL, offer_expires_at = NULL WHERE instance_id = ?').run(instance);
        return;
      case 'CallAssigned':
        statement(db, 'calls:assigned', "UPDATE calls SET status = 'active', operator = ?, offered_to = NULL, offer_expires_at = NULL WHERE instance_id = ?").run(event.data.operator, instance);
        return;
      case 'CallReturned':
        statement(db, 'calls:returned', "UPDATE calls SET status = 'queued', operator = NULL WHERE instance_id = ?").run(instance);
        return;
      case 'CallbackRequested':
        statement(db, 'calls:callback', 'UPDATE calls SET callback = 1 WHERE instance_id = ?').run(instance);
        return;
      case 'CallEnded':
        setStatus('ended');
        statement(db, 'calls:ended', 'UPDATE calls SET ended_at = ?, end_reason = ?, ended_by = ?, offered_to = NULL, offer_expires_at = NULL WHERE instance_id = ?').run(
          event.data.endedAt,
          event.data.reason,
          event.data.by,
          instance,
        );
        statement(db, 'calls:ended-parties', "UPDATE call_parties SET status = 'left', peer_id = NULL WHERE instance_id = ? AND status != 'left'").run(instance);
        return;
    }
  },
};

interface CallRow {
  instance_id: string;
  item_id: string;
  organisation_id: string;
  mode: CallMode;
  status: CallStatus;
  host: string;
  operator: string | null;
  callback: number;
  offered_to: string | null;
  offer_expires_at: number | null;
  max_participants: number | null;
  started_at: number;
  queued_at: number | null;
  ended_at: number | null;
  end_reason: string | null;
  ended_by: string | null;
}

interface PartyRow {
  instance_id: string;
  party: string;
  role: CallRole;
  status: CallPartyStatus;
  peer_id: string | null;
}

export interface CallPartyRecord {
  party: string;
  role: CallRole;
  status: CallPartyStatus;
  peerId: string | null;
}

/** A call as the read model holds it. */
export interface CallRecord {
  instanceId: string;
  itemId: string;
  organisationId: string;
  mode: CallMode;
  status: CallStatus;
  host: string;
  operator: string | null;
  callback: boolean;
  offeredTo: string | null;
  offerExpiresAt: number | null;
  maxParticipants: number | null;
  startedAt: number;
  queuedAt: number | null;
  endedAt: number | null;
  endReason: string | null;
  parties: CallPartyRecord[];
}

const CALL_COLUMNS = 'c.instance_id, c.item_id, c.organisation_id, c.mode, c.status, c.host, c.operator, c.callback, c.offered_to, c.offer_expires_at, c.max_participants, c.started_at, c.queued_at, c.ended_at, c.end_reason, c.ended_by';

/** Queries over the read model (`store.readModels`). */
export class CallDirectory {
  constructor(private readonly db: ReadModelDatabase) {}

  get(instanceId: string): CallRecord | undefined {
    const row = statement(this.db, 'calls:q:get', `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.instance_id = ?`).get(instanceId) as CallRow | undefined;
    return row && this.records([row])[0];
  }

  /** The item's calls that have not ended, oldest first. */
  live(itemId: string): CallRecord[] {
    const rows = statement(this.db, 'calls:q:live', `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.item_id = ? AND c.status != 'ended' ORDER BY c.started_at, c.instance_id`).all(itemId);
    return this.records(rows as CallRow[]);
  }

  /** The item's queue: its queued calls in the order operators take them (a returned call keeps its first place). */
  queue(itemId: string): CallRecord[] {
    const rows = statement(this.db, 'calls:q:queue', `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.item_id = ? AND c.status = 'queued' ORDER BY c.queued_at, c.instance_id`).all(itemId);
    return this.records(rows as CallRow[]);
  }

  /** The item's calls that ended, newest first. */
  ended(itemId: string, limit: number): CallRecord[] {
    const rows = statement(this.db, 'calls:q:ended', `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.item_id = ? AND c.status = 'ended' ORDER BY c.ended_at DESC, c.instance_id LIMIT ?`).all(itemId, limit);
    return this.records(rows as CallRow[]);
  }

  /** The party's calls on the item (hosted, rung or joined): the live ones, then at most `endedLimit` ended ones, newest first. */
  ofParty(itemId: string, party: string, endedLimit: number): CallRecord[] {
    const rows = statement(
      this.db,
      'calls:q:of-party',
      `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.item_id = ? AND c.status != 'ended'
         AND (c.host = ? OR EXISTS (SELECT 1 FROM call_parties p WHERE p.instance_id = c.instance_id AND p.party = ?))
       ORDER BY c.started_at DESC, c.instance_id`,
    ).all(itemId, party, party) as CallRow[];
    const ended = statement(
      this.db,
      'calls:q:of-party-ended',
      `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.item_id = ? AND c.status = 'ended'
         AND (c.host = ? OR EXISTS (SELECT 1 FROM call_parties p WHERE p.instance_id = c.instance_id AND p.party = ?))
       ORDER BY c.ended_at DESC, c.instance_id LIMIT ?`,
    ).all(itemId, party, party, endedLimit) as CallRow[];
    return this.records([...rows, ...ended]);
  }

  /** Operators of the item now in one of its calls, or holding an offer of one: not free for another offer. */
  busyOperators(itemId: string): Set<string> {
    const rows = statement(
      this.db,
      'calls:q:busy',
      `SELECT p.party AS party FROM call_parties p JOIN calls c ON c.instance_id = p.instance_id
         WHERE c.item_id = ? AND c.status != 'ended' AND p.status = 'joined'
       UNION SELECT offered_to FROM calls WHERE item_id = ? AND status = 'queued' AND offered_to IS NOT NULL`,
    ).all(itemId, itemId) as { party: string }[];
    return new Set(rows.map((row) => row.party));
  }

  /** Items that have live calls (an item removal ends them). */
  itemsWithLiveCalls(): string[] {
    const rows = statement(this.db, 'calls:q:live-items', "SELECT DISTINCT item_id FROM calls WHERE status != 'ended'").all() as { item_id: string }[];
    return rows.map((row) => row.item_id);
  }

  private records(rows: readonly CallRow[]): CallRecord[] {
    return rows.map((row) => {
      const parties = statement(this.db, 'calls:q:parties', 'SELECT * FROM call_parties WHERE instance_id = ? ORDER BY rowid').all(row.instance_id) as PartyRow[];
      return {
        instanceId: row.instance_id,
        itemId: row.item_id,
        organisationId: row.organisation_id,
        mode: row.mode,
        status: row.status,
        host: row.host,
        operator: row.operator,
        callback: row.callback === 1,
        offeredTo: row.offered_to,
        offerExpiresAt: row.offer_expires_at,
        maxParticipants: row.max_participants,
        startedAt: row.started_at,
        queuedAt: row.queued_at,
        endedAt: row.ended_at,
        endReason: row.end_reason,
        parties: parties.map((party) => ({ party: party.party, role: party.role, status: party.status, peerId: party.peer_id })),
      };
    });
  }
}
