import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

/** A bounded UDP flood: `count` copies of `message` to a port, for at most `ms`. */
export interface UdpFlood {
  port: number;
  /** Where to send (default 127.0.0.1): loopback, or an address in a namespace the test made. */
  host?: string;
  message: string | Buffer;
  /** Datagrams to send, at most. */
  count: number;
  /** How long to send, at most (default 60 s). */
  ms?: number;
  /** Sends in flight at once (default 1: each waits for the previous one). */
  inFlight?: number;
}

/** The sender, run by a child process so the flood is not paced by the caller's event loop. Prints how many it sent. */
const SENDER = `const o = JSON.parse(process.argv[1]);
const m = Buffer.from(o.message, 'base64');
const s = require('node:dgram').createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
const end = Date.now() + o.ms;
let sent = 0, lanes = o.inFlight;
const go = () => {
  if (sent < o.count && Date.now() < end) {
    sent++;
    s.send(m, o.port, o.host, go);
  } else if (--lanes === 0) s.close(() => process.stdout.write(String(sent)));
};
for (let i = 0; i < o.inFlight; i++) go();`;

function senderArgs(f: UdpFlood): { args: string[]; timeout: number } {
  const ms = f.ms ?? 60_000;
  const o = { host: f.host ?? '127.0.0.1', port: f.port, message: Buffer.from(f.message).toString('base64'), count: f.count, ms, inFlight: f.inFlight ?? 1 };
  return { args: ['-e', SENDER, '--', JSON.stringify(o)], timeout: ms + 30_000 };
}

/** Floods from a child process while this one goes on; resolves to the datagrams sent. */
export async function floodUdp(f: UdpFlood): Promise<number> {
  const { args, timeout } = senderArgs(f);
  const { stdout } = await promisify(execFile)(process.execPath, args, { timeout });
  return Number(stdout);
}

/**
 * Floods from a child process and holds this process's event loop until it is done: a listener of
 * this process reads nothing meanwhile, as a busy probe would, so the kernel drops what its socket
 * buffer cannot hold. Returns the datagrams sent.
 */
export function floodUdpSync(f: UdpFlood): number {
  const { args, timeout } = senderArgs(f);
  return Number(execFileSync(process.execPath, args, { timeout, encoding: 'utf8' }));
}
