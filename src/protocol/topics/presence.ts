import { z } from 'zod';
import { commandPayload, extreamId, userType, type UserType } from './extream.js';

/**
 * Presence topics (PROTOCOL.md section 8): who is online at an event, and whether a user lets
 * others see them there. Imports only zod and extream.ts: the client SDK imports this.
 */

export const PRESENCE_TOPICS = {
  onlineUsers: 'consumer_online_users',
  onlineVisibility: 'consumer_online_visibility',
} as const;

/** Pushes to an event's audience when a (visible) user comes online there or goes. */
export const PRESENCE_PUSHES = {
  join: 'consumer_online_join',
  leave: 'consumer_online_leave',
} as const;

/** `{event?, type?}`: without `event`, the event the connection joined last. */
export const consumerOnlineUsers = z.object({
  event: extreamId.optional(),
  type: userType.optional(),
  payload: commandPayload,
});
export type ConsumerOnlineUsers = z.infer<typeof consumerOnlineUsers>;

/** `{visibility: 'visible' | 'hidden'}`, or a boolean (true: visible), as clients toggling a switch send it. */
export const consumerOnlineVisibility = z
  .object({
    visibility: z.union([z.enum(['visible', 'hidden']), z.boolean()], { error: "must be 'visible', 'hidden' or a boolean" }),
    payload: commandPayload,
  })
  .transform(({ visibility, payload }) => ({ visible: visibility === true || visibility === 'visible', payload }));
export type ConsumerOnlineVisibility = z.output<typeof consumerOnlineVisibility>;

/** How `audience` and `actor` see other users: a name, nothing else. */
export interface OnlineUserName {
  id: string;
  name: string | null;
}

/** How `crew` and `chief` see users: the whole user but the email (never an address: see `username`). */
export interface OnlineUserProfile extends OnlineUserName {
  /** The username, left out when it is an email address (users have no separate email yet). */
  username?: string;
  user_type: UserType;
  groups: string[];
  organisation: string | null;
}

/** `consumer_online_join` / `consumer_online_leave` data; `seq` when a committed visibility change caused it. */
export interface OnlinePush {
  event: string;
  user: OnlineUserName | OnlineUserProfile;
  seq?: number;
}
