import type { Principal } from '../../core/index.js';
import type { UserType } from '../../protocol/topics/extream.js';
import type { OnlineUserName, OnlineUserProfile } from '../../protocol/topics/presence.js';
import type { ItemModulePorts } from '../itineraries/index.js';

/**
 * What others see of an online user (PROTOCOL.md section 8): `audience` and `actor` see a
 * name; `crew` and `chief` the whole user but the email.
 *
 * Users have no display name yet, so the name is the username. A username may be an email
 * address (participant criteria read it as one), and no view ever carries an address: the
 * name is then the part before the `@`, and the profile leaves `username` out.
 */

/** The two views of one user, built once per push or list entry. */
export interface UserViews {
  name: OnlineUserName;
  profile: OnlineUserProfile;
}

/** What a username shows as a name: itself, or the local part when it is an address. */
export function displayName(username: string): string | null {
  const at = username.indexOf('@');
  if (at === -1) return username;
  return at > 0 ? username.slice(0, at) : null;
}

export function viewsOf(users: ItemModulePorts['users'], userId: string, userType: UserType): UserViews {
  const user = users.get(userId);
  const name = user ? displayName(user.username) : null;
  const profile: OnlineUserProfile = {
    id: userId,
    name,
    ...(user && !user.username.includes('@') ? { username: user.username } : {}),
    user_type: userType,
    groups: [...(user?.groups ?? [])],
    organisation: user?.organisationId ?? null,
  };
  return { name: { id: userId, name }, profile };
}

/** The roles that see profiles rather than names. */
export const seesProfilesAs = (userType: UserType): boolean => userType === 'crew' || userType === 'chief';

/** The signed-in user a connection speaks for, if any: only users are ever online. */
export const userIdOf = (principal: Principal): string | undefined => (principal.kind === 'user' ? principal.userId : undefined);
