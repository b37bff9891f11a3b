/**
 * The `id` of each pending join request's frame, so the owner's accept or reject (pushed
 * from the log, maybe much later) answers that frame. Written by the join topic before its
 * command, taken by the rooms processor when the request is decided. Not state: a restart
 * drops the requests along with their sockets.
 */
export class JoinRequestFrames {
  private readonly ids = new Map<string, number>();

  remember(room: string, peerId: string, id: number): void {
    this.ids.set(keyOf(room, peerId), id);
  }

  forget(room: string, peerId: string): void {
    this.ids.delete(keyOf(room, peerId));
  }

  /** The request's frame id, once: the answer that takes it is the only one that echoes it. */
  take(room: string, peerId: string): number | undefined {
    const key = keyOf(room, peerId);
    const id = this.ids.get(key);
    this.ids.delete(key);
    return id;
  }
}

/** Room names cannot contain a newline, so the pair is unambiguous. */
const keyOf = (room: string, peerId: string): string => `${room}\n${peerId}`;
