import { describe, expect, it } from 'vitest';
import { presenceAggregate, type PresenceCommand, type PresenceEvent } from '../../src/modules/presence/domain/index.js';
import { deciderSpec } from '../helpers/spec.js';

const spec = deciderSpec(presenceAggregate);
const USER = 'user-1';
const NOW = 1_800_000_000_000;

const set = (visible: boolean, now = NOW): PresenceCommand => ({ type: 'SetVisibility', userId: USER, visible, now });
const visibilitySet = (visible: boolean, setAt = NOW): PresenceEvent => ({ type: 'PresenceVisibilitySet', data: { userId: USER, visible, setAt } });

describe('presence decide', () => {
  it('a user who never chose is visible: showing them again records nothing', () => {
    spec.given().when(set(true)).then([]);
    expect(spec.given().state.context.visible).toBe(true);
  });

  it('hiding records the choice once; hiding again records nothing', () => {
    const hidden = spec.given().when(set(false)).then([visibilitySet(false)]);
    expect(hidden.state.context.visible).toBe(false);
    hidden.when(set(false, NOW + 5)).then([]);
  });

  it('showing a hidden user records it, with the command time', () => {
    spec.given([visibilitySet(false)]).when(set(true, NOW + 60_000)).then([visibilitySet(true, NOW + 60_000)]);
  });

  it('the last choice counts, however many came before', () => {
    const history = [visibilitySet(false), visibilitySet(true, NOW + 1), visibilitySet(false, NOW + 2)];
    expect(spec.given(history).state.context.visible).toBe(false);
    spec.given(history).when(set(false)).then([]);
  });
});
