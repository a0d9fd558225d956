import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

/** A stand-in for node:dgram that net-snmp accepts as its `dgramModule`. */
export interface DgramModule {
  createSocket(type: 'udp4' | 'udp6'): Socket;
}

/**
 * A dgram module whose sockets run every 'message' listener inside a try/catch: what a listener
 * throws (net-snmp decoding a hostile datagram, or re-encoding an inform's acknowledgement) goes
 * to `onThrow` with the sender instead of escaping the event loop and ending the process.
 * `onSocket` sees each socket as it is made (before net-snmp adds its listeners).
 */
export function containedDgram(onThrow: (err: unknown, rinfo: RemoteInfo) => void, onSocket?: (s: Socket) => void): DgramModule {
  return {
    createSocket(type) {
      const s = createSocket(type);
      const on = s.on.bind(s);
      s.on = ((event: string, listener: (...args: any[]) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        if (event !== 'message') return on(event, listener);
        const guarded = (msg: Buffer, rinfo: RemoteInfo) => {
          try {
            listener(msg, rinfo);
          } catch (err) {
            onThrow(err, rinfo);
          }
        };
        return on('message', guarded);
      }) as typeof s.on;
      onSocket?.(s);
      return s;
    },
  };
}
