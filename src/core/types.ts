/** Which wire format the server speaks to a connection. */
export type Codec = 'json' | 'msgpack';
/** Which protocol stack a connection came in through. */
export type Transport = 'native' | 'socket.io';
