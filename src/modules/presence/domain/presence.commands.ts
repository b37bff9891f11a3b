/** Commands carry `now`: domain code never reads the clock. */
export type PresenceCommand = { type: 'SetVisibility'; userId: string; visible: boolean; now: number };
