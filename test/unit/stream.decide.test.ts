import { describe, expect, it } from 'vitest';
import { streamAggregate, streamStatus, type StreamCommand, type StreamEvent, type StreamStatus } from '../../src/modules/streams/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(streamAggregate);
const ITEM = '5f0c1b7e-2f51-4b0e-9a0e-7d4b1c2a3e01';
const NOW = 1_900_000_000_000;
const KEY_HASH = 'hash-of-key-1';

const issue = (keyHash = KEY_HASH, now = NOW, replace = true): StreamCommand => ({ type: 'IssueStreamKey', itemId: ITEM, keyHash, sealedSecret: `sealed(${keyHash})`, replace, now });
const issued = (generation = 1, keyHash = KEY_HASH, at = NOW): StreamEvent => ({
  type: 'StreamKeyIssued',
  data: { itemId: ITEM, generation, keyHash, sealedSecret: `sealed(${keyHash})`, issuedAt: at },
});
const activate = (phase: 'rehearsing' | 'live' | 'recording' | 'complete', presentedKeyHash: string | null = KEY_HASH, now = NOW + 10): StreamCommand => ({
  type: 'ActivateStream',
  itemId: ITEM,
  phase,
  presentedKeyHash,
  now,
});
const activated = (via: 'key' | 'credential' = 'key', at = NOW + 10): StreamEvent => ({ type: 'StreamActivated', data: { itemId: ITEM, activatedAt: at, via } });
const changed = (previous: StreamStatus, status: StreamStatus, at: number, cause: 'schedule' | 'activation' | 'completion'): StreamEvent => ({
  type: 'StreamStatusChanged',
  data: { itemId: ITEM, status, previous, at, cause },
});
const complete = (phase: 'live' | 'recording' | 'complete', recordingUrl: string | null = 'https://vod.example/rec.m3u8', presentedKeyHash: string | null = KEY_HASH, now = NOW + 20): StreamCommand => ({
  type: 'CompleteStream',
  itemId: ITEM,
  phase,
  presentedKeyHash,
  recordingUrl,
  now,
});
const completed = (recordingUrl: string | null = 'https://vod.example/rec.m3u8', at = NOW + 20): StreamEvent => ({
  type: 'StreamCompleted',
  data: { itemId: ITEM, recordingUrl, completedAt: at, via: 'key' },
});
const tick = (phase: 'rehearsing' | 'live' | 'recording' | 'complete', now: number): StreamCommand => ({ type: 'RecordStreamStatus', itemId: ITEM, phase, now });

describe('stream status', () => {
  it('is the clock phase refined by what the streaming service said', () => {
    const idle = { activatedAt: null, completedAt: null };
    const onAir = { activatedAt: NOW, completedAt: null };
    const done = { activatedAt: NOW, completedAt: NOW + 1 };
    expect(streamStatus('rehearsing', idle)).toBe('rehearsing');
    // Activated during the rehearsal: still a rehearsal for everyone but the crew.
    expect(streamStatus('rehearsing', onAir)).toBe('rehearsing');
    // The live window without a broadcaster: nothing to watch yet.
    expect(streamStatus('live', idle)).toBe('rehearsing');
    expect(streamStatus('live', onAir)).toBe('live');
    expect(streamStatus('recording', onAir)).toBe('recording');
    expect(streamStatus('recording', idle)).toBe('recording');
    expect(streamStatus('complete', idle)).toBe('complete');
    expect(streamStatus('live', done)).toBe('complete');
  });
});

describe('stream decide', () => {
  it('issues keys with rising generations; the latest one is the only one that activates', () => {
    const first = spec.given().when(issue()).then([issued()]);
    const second = first.when(issue('hash-of-key-2', NOW + 5)).then([issued(2, 'hash-of-key-2', NOW + 5)]);
    expect(second.state.context).toMatchObject({ generation: 2, keyHash: 'hash-of-key-2' });
    second.when(activate('rehearsing', KEY_HASH)).thenThrows('UNAUTHORIZED', 'stream key is not valid');
    second.when(activate('rehearsing', 'hash-of-key-2')).then([activated()]);
  });

  it('a first key asked for twice at once is issued once: the second ask keeps the first key', () => {
    spec.given().when(issue(KEY_HASH, NOW, false)).then([issued()]);
    spec.given([issued()]).when(issue('hash-of-key-2', NOW + 1, false)).then([]);
  });

  it('refuses every key before one was issued, and any key but the current one, with one message', () => {
    spec.given().when(activate('live')).thenThrows('UNAUTHORIZED', 'stream key is not valid');
    spec.given([issued()]).when(activate('live', 'guessed')).thenThrows('UNAUTHORIZED', 'stream key is not valid');
    spec.given([issued()]).when(complete('live', null, 'guessed')).thenThrows('UNAUTHORIZED', 'stream key is not valid');
  });

  it('activation in the live window goes live; in the rehearsal it stays rehearsing', () => {
    spec.given([issued()]).when(activate('live')).then([activated(), changed('rehearsing', 'live', NOW + 10, 'activation')]);
    spec.given([issued()]).when(activate('rehearsing')).then([activated()]);
    // A credential (checked before the command) instead of the key.
    spec.given().when(activate('live', null)).then([activated('credential'), changed('rehearsing', 'live', NOW + 10, 'activation')]);
  });

  it('a second activation changes nothing; none after completion or after the recording window', () => {
    spec.given([issued(), activated()]).when(activate('rehearsing')).then([]);
    spec.given([issued(), activated(), completed()]).when(activate('live')).thenThrows('CONFLICT', 'this stream is complete');
    spec.given([issued()]).when(activate('complete')).thenThrows('CONFLICT');
  });

  it('the window opening on an activated stream goes live; the clock moves it on to recording and complete', () => {
    const onAir = spec.given([issued(), activated()]);
    const live = onAir.when(tick('live', NOW + 100)).then([changed('rehearsing', 'live', NOW + 100, 'schedule')]);
    live.when(tick('live', NOW + 150)).then([]);
    const recording = live.when(tick('recording', NOW + 200)).then([changed('live', 'recording', NOW + 200, 'schedule')]);
    recording.when(tick('complete', NOW + 300)).then([changed('recording', 'complete', NOW + 300, 'schedule')]);
    // Never activated: the window opens on nothing (still rehearsing), the end still records.
    spec.given().when(tick('live', NOW)).then([]);
    spec.given().when(tick('recording', NOW)).then([changed('rehearsing', 'recording', NOW, 'schedule')]);
  });

  it('completion records the recording and is final; a retry with the same recording changes nothing, another is a conflict', () => {
    const live = spec.given([issued(), activated(), changed('rehearsing', 'live', NOW + 10, 'activation')]);
    const done = live.when(complete('live')).then([completed(), changed('live', 'complete', NOW + 20, 'completion')]);
    expect(done.state.value).toBe('completed');
    expect(done.state.context.recordingUrl).toBe('https://vod.example/rec.m3u8');
    done.when(complete('live')).then([]);
    done.when(complete('live', 'https://vod.example/other.m3u8')).thenThrows('CONFLICT');
    // Completion is final: the clock moves it no more.
    done.when(tick('live', NOW + 30)).then([]);
  });

  it('completion after the clock completed it records the recording without a status change', () => {
    const overByTime = spec.given([issued(), activated(), changed('rehearsing', 'complete', NOW + 15, 'schedule')]);
    overByTime.when(complete('complete')).then([completed()]);
  });

  it('completing a stream that never went on air is a conflict', () => {
    spec.given([issued()]).when(complete('live')).thenThrows('CONFLICT', 'this stream was never activated');
  });
});
