import { spawn } from 'node:child_process';
import { defineConnector, failure, reading, type Reading } from '@probemesh/core';
import { Type, type Static } from '@probemesh/model';

/** What an icmp indicator measures over one run of `count` echoes. */
export const IcmpParams = Type.Object(
  {
    measure: Type.Union([Type.Literal('up'), Type.Literal('rtt_ms'), Type.Literal('rtt_min_ms'), Type.Literal('rtt_max_ms'), Type.Literal('loss_pct')], {
      description: 'up: 1 when any echo came back; rtt_*: round trip of the answered echoes; loss_pct: share unanswered',
    }),
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'echoes per reading (default 3)' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 30_000, description: 'wait for the last reply (default 1000)' })),
  },
  { additionalProperties: false },
);
export type IcmpParams = Static<typeof IcmpParams>;

/** One ping run, parsed. */
export interface PingResult {
  transmitted: number;
  received: number;
  lossPct: number;
  rtt?: { min: number; avg: number; max: number };
}

/** Parses iputils ping's summary lines; undefined when they are missing. */
export function parsePing(out: string): PingResult | undefined {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received.*?([\d.]+)% packet loss/.exec(out);
  if (!m) return undefined;
  const r = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(out);
  return {
    transmitted: Number(m[1]),
    received: Number(m[2]),
    lossPct: Number(m[3]),
    ...(r ? { rtt: { min: Number(r[1]), avg: Number(r[2]), max: Number(r[3]) } } : {}),
  };
}

/** Runs the system ping (iputils) once; rejects with what went wrong. */
function ping(address: string, count: number, timeoutMs: number, signal: AbortSignal): Promise<PingResult> {
  return new Promise((resolve, reject) => {
    const args = ['-n', '-q', '-c', String(count), '-i', '0.2', '-W', String(Math.max(1, Math.ceil(timeoutMs / 1000))), '--', address];
    const child = spawn('ping', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const onAbort = () => child.kill('SIGINT'); // ping prints its summary on SIGINT
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => reject(new Error(`cannot run ping: ${err.message} (install iputils-ping)`)));
    child.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      const r = parsePing(out);
      if (r) resolve(r);
      else reject(new Error(out.trim().split('\n').pop() || 'ping gave no summary'));
    });
  });
}

/**
 * The `icmp` connector: one `ping` run per device per read serves every icmp indicator of that
 * device. Needs iputils-ping (setuid or CAP_NET_RAW, as Debian installs it).
 */
export const icmpConnector = defineConnector({
  scheme: 'icmp',
  summary: 'reachability, round-trip time and loss over ICMP echo',
  params: IcmpParams,
  perDevice: true,
  counters: ['runs', 'failures'],
  start: () => {
    const stats = { runs: 0, failures: 0 };
    return {
      async read(requests, signal) {
        const runs = new Map<string, Promise<PingResult>>();
        return Promise.all(
          requests.map(async (req): Promise<Reading> => {
            const address = req.device?.address;
            if (!address) return failure('config', 'icmp needs a device address');
            const p = req.params as IcmpParams;
            const count = p.count ?? 3;
            const key = `${address}/${count}/${p.timeoutMs ?? 1000}`;
            let run = runs.get(key);
            if (!run) {
              stats.runs++;
              runs.set(key, (run = ping(address, count, p.timeoutMs ?? 1000, signal)));
            }
            let r: PingResult;
            try {
              r = await run;
            } catch (err) {
              stats.failures++;
              return failure('unreachable', `ping ${address}: ${(err as Error).message}`);
            }
            switch (p.measure) {
              case 'up':
                return reading(r.received > 0 ? 1 : 0);
              case 'loss_pct':
                return reading(r.lossPct);
              default: {
                if (!r.rtt) return failure('timeout', `no echo reply from ${address} (${r.transmitted} sent)`);
                return reading(p.measure === 'rtt_ms' ? r.rtt.avg : p.measure === 'rtt_min_ms' ? r.rtt.min : r.rtt.max);
              }
            }
          }),
        );
      },
      stats: () => ({ ...stats }),
      async stop() {},
    };
  },
});
