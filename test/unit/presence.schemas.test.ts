import { describe, expect, it } from 'vitest';
import { consumerOnlineUsers, consumerOnlineVisibility } from '../../src/protocol/topics/presence.js';

const EVENT = '3b241101-e2bb-4255-8caf-4136c566a962';

describe('presence wire schemas', () => {
  it('consumer_online_visibility takes visible/hidden or a boolean, and nothing else', () => {
    expect(consumerOnlineVisibility.parse({ visibility: 'visible' })).toMatchObject({ visible: true });
    expect(consumerOnlineVisibility.parse({ visibility: 'hidden' })).toMatchObject({ visible: false });
    expect(consumerOnlineVisibility.parse({ visibility: true })).toMatchObject({ visible: true });
    expect(consumerOnlineVisibility.parse({ visibility: false })).toMatchObject({ visible: false });
    for (const visibility of ['invisible', 'true', 1, null, undefined]) {
      const parsed = consumerOnlineVisibility.safeParse({ visibility });
      expect(parsed.success, String(visibility)).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(['visibility']);
    }
  });

  it('consumer_online_users: event optional (a UUID), type one of the user types', () => {
    expect(consumerOnlineUsers.parse({})).toEqual({});
    expect(consumerOnlineUsers.parse({ event: EVENT, type: 'crew' })).toEqual({ event: EVENT, type: 'crew' });
    expect(consumerOnlineUsers.safeParse({ event: 'not-a-uuid' }).error?.issues[0]?.path).toEqual(['event']);
    expect(consumerOnlineUsers.safeParse({ type: 'admin' }).error?.issues[0]?.path).toEqual(['type']);
  });
});
