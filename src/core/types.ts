/** Which wire format the server speaks to a connection. */
export type Codec = 'json' | 'msgpack';
/** Which protocol stack a connection came in through. */
export type Transport = 'native' | 'socket.io';

/** Who a connection speaks for, as far as the gateway has verified. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'organisation'; organisationId: string; clientId: string | null }
  | { kind: 'mfa-pending'; userId: string; organisationId: string | null }
  | { kind: 'user'; userId: string; organisationId: string | null; groups: string[]; external: boolean }
  /**
   * An app's session: its session token, or on a connection another cluster node adopted after
   * a node loss only that token's digest (the token never enters the log).
   */
  | { kind: 'app'; app: string; sessionToken: string | { digest: string } }
  /** An invited participant from outside (PROTOCOL.md section 9): one item, its call's room, nothing else. */
  | { kind: 'guest'; invitationId: string; itemId: string; room: string; organisationId: string; email: string; name: string | null };

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });
