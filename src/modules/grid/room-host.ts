/** A room addressed by the room API: the customer's namespace and the room's name. */
export interface HostedRoomRef {
  customerId: string;
  namespace: string;
  name: string;
}

/**
 * Rooms the gateway hosts itself (PROTOCOL.md section 5) as the room API reaches them. Each
 * method acts at once and answers true, or answers false when the gateway does not host the
 * room, and the call goes on to the SFU grid's task queue.
 */
export interface GatewayRoomHost {
  close(room: HostedRoomRef, banSeconds: number): boolean | Promise<boolean>;
  update(room: HostedRoomRef, userData: Uint8Array): boolean | Promise<boolean>;
  ban(room: HostedRoomRef, userId: string, banSeconds: number): boolean | Promise<boolean>;
  sendMessage(room: HostedRoomRef, userId: string, message: Uint8Array): boolean | Promise<boolean>;
}

/** Hosts nothing: every room API call goes to the grid. The default until gateway rooms exist. */
export const noGatewayRooms: GatewayRoomHost = {
  close: () => false,
  update: () => false,
  ban: () => false,
  sendMessage: () => false,
};
