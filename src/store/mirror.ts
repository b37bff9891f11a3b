import type { Database, Statement } from 'better-sqlite3';
import { AppError, ConflictError, ERROR_CODES } from '../core/index.js';
import { AsyncProjector } from './async-projector.js';
import { decodeAppend, streamIdOfSubject, type AppendBody } from './jetstream-codec.js';
import { assertExpectedVersion, type SerializedEvent } from './expected-version.js';
import { ensureMirrorTables, migrate } from './schema.js';
import { buildInlineProjectionsFromLog, checkpointStoreOf, openDatabase, readAllFrom, rowToEvent, type EventRow } from './sqlite-database.js';
import { StartupError } from './startup.js';
import type { CheckpointStore, Projection, ReadAllOptions, RecordedEvent } from './types.js';

/**
 * A node's local copy of the JetStream log: an SQLite database with the single-node log's
 * schema (event_log, projection_checkpoints, the read models), so reads, read models, the
 * processors' checkpoints and the CLI's readers work on it unchanged. Written only by
 * `ingest`, which takes JetStream messages in stream order; every node ingests the same
 * messages in the same order into the same read models, so every node computes the same
 * positions, versions and VOID verdicts. All of the mirror's SQL is here and in schema.ts.
 */

/** The JetStream stream as it stood when the mirror was opened. */
export interface MirrorSource {
  streamName: string;
  /** The stream's creation time as JetStream reports it: a re-created stream has another. */
  created: string;
}

/** One JetStream message of the log. */
export interface LogMessage {
  sequence: number;
  subject: string;
  msgId: string | undefined;
  payload: Uint8Array;
}

/** What became of one message: its events, or the refusal that made it VOID. */
export type MessageOutcome = { ok: true; events: RecordedEvent[] } | { ok: false; error: unknown };

export interface IngestReport {
  /** The events now readable, in position order (empty when every message was VOID or seen). */
  events: RecordedEvent[];
  /** Each message ingested by this call, by JetStream sequence. */
  outcomes: Map<number, MessageOutcome>;
  /** The checkpoint after the call. */
  lastSequence: number;
}

export interface StreamState {
  version: number;
  /** JetStream sequence of the stream's last message, VOID ones included (0: none). */
  lastSequence: number;
}

export interface MirrorOptions {
  path: string;
  projections: readonly Projection[];
  subjectPrefix: string;
  source: MirrorSource;
  /** How often async projections look for events another process ingested. */
  projectionPollMs?: number;
}

/** The refusal stored for a VOID message, so another process can answer with it too. */
interface StoredRefusal {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

export class LogMirror {
  readonly db: Database;
  readonly checkpoints: CheckpointStore;
  private readonly inline: readonly Projection[];
  private readonly projector: AsyncProjector;
  private readonly prefix: string;
  private readonly sql: Record<
    | 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo' | 'markWriting' | 'unmarkWriting'
    | 'insert' | 'checkpoint' | 'saveCheckpoint' | 'head' | 'streamState' | 'saveStream' | 'saveMessage' | 'message'
    | 'positions' | 'readStream',
    Statement
  >;

  constructor(options: MirrorOptions) {
    this.prefix = options.subjectPrefix;
    this.db = openDatabase(options.path, { quickCheck: true });
    try {
      // JetStream (acknowledged by a quorum of servers) is the durable copy; a mirror tail lost
      // to a power cut is simply ingested again from the checkpoint that survived with it.
      this.db.pragma('synchronous = NORMAL');
      migrate(this.db);
      ensureMirrorTables(this.db);
      const existingTables = new Set(this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
      for (const projection of options.projections) projection.setup(this.db);
      this.inline = options.projections.filter((projection) => projection.mode === 'inline');
      this.sql = {
        begin: this.db.prepare('BEGIN IMMEDIATE'),
        commit: this.db.prepare('COMMIT'),
        rollback: this.db.prepare('ROLLBACK'),
        savepoint: this.db.prepare('SAVEPOINT mirror_one'),
        release: this.db.prepare('RELEASE mirror_one'),
        rollbackTo: this.db.prepare('ROLLBACK TO mirror_one'),
        markWriting: this.db.prepare('INSERT OR IGNORE INTO mirror_writing (marker) VALUES (1)'),
        unmarkWriting: this.db.prepare('DELETE FROM mirror_writing'),
        insert: this.db.prepare(
          'INSERT INTO event_log (position, stream_id, stream_version, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ),
        checkpoint: this.db.prepare('SELECT last_sequence FROM mirror_source WHERE id = 1').pluck(),
        saveCheckpoint: this.db.prepare('UPDATE mirror_source SET last_sequence = ? WHERE id = 1'),
        head: this.db.prepare('SELECT coalesce(max(position), 0) FROM event_log').pluck(),
        streamState: this.db.prepare('SELECT version, last_sequence AS lastSequence FROM mirror_streams WHERE stream_id = ?'),
        saveStream: this.db.prepare(
          'INSERT INTO mirror_streams (stream_id, version, last_sequence) VALUES (?, ?, ?) ON CONFLICT(stream_id) DO UPDATE SET version = excluded.version, last_sequence = excluded.last_sequence',
        ),
        saveMessage: this.db.prepare(
          'INSERT INTO mirror_messages (sequence, msg_id, stream_id, first_position, event_count, void_error) VALUES (?, ?, ?, ?, ?, ?)',
        ),
        message: this.db.prepare('SELECT first_position AS firstPosition, event_count AS eventCount, void_error AS voidError FROM mirror_messages WHERE sequence = ?'),
        positions: this.db.prepare('SELECT * FROM event_log WHERE position >= ? AND position < ? ORDER BY position'),
        readStream: this.db.prepare('SELECT * FROM event_log WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version'),
      };
      this.claimSource(options.path, options.source);
      this.buildNewInlineProjections(this.inline.filter((projection) => projection.tables.every((table) => !existingTables.has(table))));
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.checkpoints = checkpointStoreOf(this.db);
    this.projector = new AsyncProjector(
      this.db,
      options.projections.filter((projection) => projection.mode === 'async'),
      (after, limit) => readAllFrom(this.db, { after, limit }),
      options.projectionPollMs ?? 1000,
    );
    this.projector.schedule();
  }

  /** The last JetStream sequence ingested (by this process or another on the same file). */
  get lastSequence(): number {
    return this.sql.checkpoint.get() as number;
  }

  get open(): boolean {
    return this.db.open;
  }

  streamState(streamId: string): StreamState {
    return (this.sql.streamState.get(streamId) as StreamState | undefined) ?? { version: 0, lastSequence: 0 };
  }

  streamVersion(streamId: string): number {
    return this.streamState(streamId).version;
  }

  headPosition(): number {
    return this.sql.head.get() as number;
  }

  readStream(streamId: string, fromVersion = 1): RecordedEvent[] {
    return (this.sql.readStream.all(streamId, fromVersion) as EventRow[]).map(rowToEvent);
  }

  readAll(options: ReadAllOptions = {}): RecordedEvent[] {
    return readAllFrom(this.db, options);
  }

  /**
   * Runs an append's inline projections against the read models as they stand, then rolls
   * everything back: the refusals projections make (a taken username, a closed question) are
   * answered before the append reaches the log. A refusal that races past this (another node
   * took the name meanwhile) is caught at ingest, where the message becomes VOID.
   */
  dryRun(streamId: string, events: readonly SerializedEvent[], recordedAt: number): void {
    if (this.inline.length === 0) return;
    const { savepoint, rollbackTo, release, markWriting } = this.sql;
    savepoint.run();
    try {
      markWriting.run();
      const version = this.streamState(streamId).version;
      this.insertEvents(streamId, events, recordedAt, this.headPosition(), version);
    } finally {
      rollbackTo.run();
      release.run();
    }
  }

  /**
   * Ingests messages in stream order, as one transaction: their events, their inline
   * projections, the per-stream states and the checkpoint commit together, so a crash loses
   * whole batches only, and they are ingested again. Messages at or below the checkpoint are
   * skipped (a consumer restarted from it, or another process ingested them first).
   */
  ingest(messages: readonly LogMessage[]): IngestReport {
    const { begin, commit, rollback, markWriting, unmarkWriting, saveCheckpoint } = this.sql;
    const report: IngestReport = { events: [], outcomes: new Map(), lastSequence: 0 };
    begin.run();
    try {
      markWriting.run();
      // Read inside the write lock: another process ingesting the same file may have moved them.
      let checkpoint = this.sql.checkpoint.get() as number;
      let head = this.sql.head.get() as number;
      for (const message of messages) {
        if (message.sequence <= checkpoint) continue;
        // The stream is created with deny_delete and deny_purge, so its sequences have no
        // holes; a hole here is a consumer that skipped, and ingesting past it would give this
        // node positions no other node has. The batch fails and is read again from the checkpoint.
        if (message.sequence !== checkpoint + 1) {
          throw new Error(`mirror expected JetStream sequence ${checkpoint + 1}, got ${message.sequence}`);
        }
        const outcome = this.ingestOne(message, head);
        if (outcome.ok) {
          for (const event of outcome.events) report.events.push(event);
          head += outcome.events.length;
        }
        report.outcomes.set(message.sequence, outcome);
        checkpoint = message.sequence;
      }
      saveCheckpoint.run(checkpoint);
      unmarkWriting.run();
      commit.run();
      report.lastSequence = checkpoint;
    } catch (error) {
      if (this.db.inTransaction) rollback.run();
      throw error;
    }
    if (report.events.length > 0) this.projector.schedule();
    return report;
  }

  /** What became of the message at `sequence`, or undefined when it is not ingested yet. */
  outcomeOf(sequence: number): MessageOutcome | undefined {
    const row = this.sql.message.get(sequence) as { firstPosition: number | null; eventCount: number; voidError: string | null } | undefined;
    if (!row) return undefined;
    if (row.voidError !== null || row.firstPosition === null) return { ok: false, error: refusalOf(row.voidError) };
    const events = (this.sql.positions.all(row.firstPosition, row.firstPosition + row.eventCount) as EventRow[]).map(rowToEvent);
    return { ok: true, events };
  }

  /** Catches async projections up and closes the database. */
  close(): void {
    this.projector.stop();
    if (!this.db.open) return;
    this.projector.runOnce();
    this.db.close();
  }

  private ingestOne(message: LogMessage, head: number): MessageOutcome {
    const streamId = streamIdOfSubject(this.prefix, message.subject);
    // The subject's stream counts the message for its expected sequence even when VOID, since
    // JetStream does: the next append's expectation must name this message's sequence.
    const state = streamId === undefined ? undefined : this.streamState(streamId);
    let events: RecordedEvent[] = [];
    const verdict = this.verdictOn(message, streamId, state);
    let refusal = 'refusal' in verdict ? verdict.refusal : undefined;
    if ('body' in verdict) {
      const { body } = verdict;
      const isolate = this.inline.length > 0;
      if (isolate) this.sql.savepoint.run();
      try {
        events = this.insertEvents(body.streamId, body.events, body.recordedAt, head, state!.version);
        if (isolate) this.sql.release.run();
      } catch (error) {
        if (!isolate) throw error;
        this.sql.rollbackTo.run();
        this.sql.release.run();
        refusal = error;
      }
    }
    if (streamId !== undefined) this.sql.saveStream.run(streamId, state!.version + events.length, message.sequence);
    const voidError = refusal === undefined ? null : JSON.stringify(storedRefusal(refusal));
    this.sql.saveMessage.run(message.sequence, message.msgId ?? null, streamId ?? null, events[0]?.position ?? null, events.length, voidError);
    return refusal === undefined ? { ok: true, events } : { ok: false, error: refusal };
  }

  /** The append a message holds, or why it cannot be one here (foreign or damaged, or a stale expected version). */
  private verdictOn(message: LogMessage, streamId: string | undefined, state: StreamState | undefined): { body: AppendBody } | { refusal: unknown } {
    if (streamId === undefined || state === undefined) return { refusal: malformed('its subject names no log stream') };
    const body = decodeAppend(message.payload);
    if ('malformed' in body) return { refusal: malformed(body.malformed) };
    if (body.streamId !== streamId) return { refusal: malformed('its body names another stream than its subject') };
    // The expected version is decided here, not by JetStream alone: nats-server 2.9 checks a
    // clustered stream's expected last subject sequence only on the leader before proposing,
    // so two appends in flight with the same expectation can both be stored
    // (nats-server#4320, fixed in 2.9.21). Every node ingests them in the same order, so every
    // node keeps the first and voids the second alike, whose appender gets its CONFLICT.
    try {
      assertExpectedVersion(streamId, body.expected, state.version);
      return { body };
    } catch (error) {
      return { refusal: error };
    }
  }

  /** Inserts rows at positions after `head` and applies inline projections; the caller holds the transaction. */
  private insertEvents(streamId: string, serialized: readonly SerializedEvent[], recordedAt: number, head: number, version: number): RecordedEvent[] {
    const recorded: RecordedEvent[] = [];
    for (let index = 0; index < serialized.length; index++) {
      const row = serialized[index]!;
      const event: RecordedEvent = {
        position: head + index + 1,
        streamId,
        version: version + index + 1,
        type: row.type,
        // Parsed from the stored text, as the SQLite log does: what the appender's actor evolves
        // from must equal what every reader of the log gets back.
        data: JSON.parse(row.data) as unknown,
        metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
        recordedAt,
      };
      this.sql.insert.run(event.position, streamId, event.version, row.type, row.data, row.metadata, recordedAt);
      recorded.push(event);
    }
    for (const projection of this.inline) for (const event of recorded) projection.apply(this.db, event);
    return recorded;
  }

  /**
   * Binds the file to one JetStream stream. A file that already holds a log of its own (a
   * single-node data dir) or follows another stream (JetStream's data was lost and the stream
   * re-created) would otherwise serve a history no other node has, with positions to match.
   */
  private claimSource(path: string, source: MirrorSource): void {
    const row = this.db.prepare('SELECT stream_name AS streamName, stream_created AS created, last_sequence AS lastSequence FROM mirror_source WHERE id = 1').get() as
      | MirrorSource
      | undefined;
    if (!row) {
      if (this.headPosition() > 0) {
        throw new StartupError(path, `${path} holds a single-node log, not a mirror of JetStream stream ${source.streamName}: give the cluster node an empty mirror file`);
      }
      this.db.prepare('INSERT INTO mirror_source (id, stream_name, stream_created, last_sequence) VALUES (1, ?, ?, 0)').run(source.streamName, source.created);
      return;
    }
    if (row.streamName !== source.streamName || row.created !== source.created) {
      throw new StartupError(
        path,
        `${path} mirrors JetStream stream ${row.streamName} created ${row.created}, not ${source.streamName} created ${source.created}: remove the mirror file to rebuild it from JetStream`,
      );
    }
  }

  /** Inline read models new to this mirror are built from the events it already holds (as the SQLite log does). */
  private buildNewInlineProjections(fresh: readonly Projection[]): void {
    if (this.headPosition() > 0) buildInlineProjectionsFromLog(this.db, fresh);
  }
}

function malformed(reason: string): AppError {
  return new AppError('BAD_REQUEST', `log message refused: ${reason}`);
}

function storedRefusal(error: unknown): StoredRefusal {
  if (error instanceof AppError) return { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  return { message: error instanceof Error ? error.message : String(error) };
}

/** The refusal as the appender's projection or version check threw it, as far as JSON kept it. */
function refusalOf(text: string | null): Error {
  const stored = (text === null ? { message: 'message refused' } : JSON.parse(text)) as StoredRefusal;
  const code = ERROR_CODES.find((known) => known === stored.code);
  if (code === undefined) return new Error(stored.message);
  const { streamId, expected, actual } = stored.details ?? {};
  // A version conflict comes back as a ConflictError, so the runtime re-reads and decides again.
  if (code === 'CONFLICT' && typeof streamId === 'string' && typeof expected === 'string' && typeof actual === 'number') {
    return new ConflictError(streamId, expected, actual);
  }
  return new AppError(code, stored.message, stored.details);
}
