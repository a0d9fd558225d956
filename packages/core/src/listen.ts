import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { endianness } from 'node:os';
import type { Clock } from './clock.js';
import type { ConnectorContext } from './connector.js';

/** How many distinct causes a Containment remembers for its once-a-minute logging. */
const MAX_CAUSES = 64;

/**
 * Keeps exceptions thrown while handling network input (a listener's callback, a library's
 * decoder) from ending the process: each is counted, and logged with its stack at most once per
 * minute per cause (its kind and the line that threw), with how many more came meanwhile.
 */
export class Containment {
  /** Exceptions contained so far. */
  count = 0;
  private readonly causes = new Map<string, { at: number; more: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly log: ConnectorContext['log'],
    /** What handles the input, for the log ("syslog udp 0.0.0.0:514"). */
    private readonly what: string,
    private readonly everyMs = 60_000,
  ) {}

  /** Records `err`, thrown while handling input from `source`; never throws. */
  record(err: unknown, source?: string): void {
    this.count++;
    const e = err instanceof Error ? err : new Error(String(err));
    const cause = `${e.name} ${e.stack?.split('\n')[1]?.trim() ?? e.message}`;
    const now = this.clock.now();
    const seen = this.causes.get(cause);
    if (seen && now - seen.at < this.everyMs) return void seen.more++;
    this.causes.delete(cause);
    if (this.causes.size >= MAX_CAUSES) this.causes.delete(this.causes.keys().next().value!);
    this.causes.set(cause, { at: now, more: 0 });
    const more = seen?.more ? ` (${seen.more} more like it since it was last logged)` : '';
    this.log('error', `${this.what}: contained an exception${source ? ` from ${source}` : ''}: ${e.name}: ${e.message}${more}`, { stack: e.stack });
  }

  /** `fn`, with whatever it throws recorded instead of escaping; `source` names the input's sender. */
  wrap<A extends unknown[]>(fn: (...args: A) => void, source?: (...args: A) => string | undefined): (...args: A) => void {
    return (...args) => {
      try {
        fn(...args);
      } catch (err) {
        let from: string | undefined;
        try {
          from = source?.(...args);
        } catch {
          from = undefined;
        }
        this.record(err, from);
      }
    };
  }
}

/** An address and port as the kernel prints them in /proc/net/udp{,6} ("0100007F:1F90"). */
function procAddress(address: string, port: number): string | undefined {
  let bytes: number[];
  if (isIPv4(address)) bytes = address.split('.').map(Number);
  else if (isIPv6(address) && !address.includes('.')) {
    const words = (s: string) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
    const [head = '', tail = ''] = address.split('::');
    const h = words(head);
    const t = words(tail);
    bytes = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t].flatMap((w) => [w >> 8, w & 0xff]);
  } else return undefined;
  // The kernel prints each 32-bit word as a number in host byte order.
  const words: string[] = [];
  for (let i = 0; i < bytes.length; i += 4) {
    const w = bytes.slice(i, i + 4);
    if (endianness() === 'LE') w.reverse();
    words.push(w.map((b) => b.toString(16).padStart(2, '0')).join(''));
  }
  return `${words.join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
}

/**
 * Datagrams the kernel dropped on the UDP socket bound to `address`:`port` because its receive
 * buffer was full (the `drops` column of /proc/net/udp and udp6); undefined where the system does
 * not say (not Linux, or no such socket).
 */
export function udpKernelDrops(address: string, port: number): number | undefined {
  const local = procAddress(address, port);
  if (!local) return undefined;
  let text: string;
  try {
    text = readFileSync(isIPv6(address) ? '/proc/net/udp6' : '/proc/net/udp', 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols[1] === local) return Number(cols[cols.length - 1]);
  }
  return undefined;
}
