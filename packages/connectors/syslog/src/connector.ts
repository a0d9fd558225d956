import { isIP } from 'node:net';
import { Containment, defineConnector, failure, reading, type Connector, type ReadRequest, type Reading } from '@probemesh/core';
import { compilePattern, ExprCheckError } from '@probemesh/expr';
import { Type, type Static } from '@probemesh/model';
import { Listener, TCP_LIMITS, type ListenerStats, type TcpLimits, type Transport, type Watch } from './listener.js';
import { FACILITIES, SEVERITIES, type SyslogMessage } from './parse.js';

const FacilityName = Type.Union(FACILITIES.map((f) => Type.Literal(f)));

/** Which messages a syslog indicator counts, on which listener, and what it reports. */
export const SyslogParams = Type.Object(
  {
    measure: Type.Union([Type.Literal('count'), Type.Literal('rate_per_s'), Type.Literal('last_message'), Type.Literal('rejects'), Type.Literal('kernel_drops')], {
      description:
        'since the previous read of this indicator: count of matching messages, their rate per second, the text of the last one, malformed messages received, or datagrams the kernel dropped on the UDP socket because the probe did not read them fast enough (filters do not apply to the last two)',
    }),
    transport: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp')], { description: 'default udp; tcp takes octet-counted and newline-framed streams (RFC 6587)' })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'port to listen on (default 514, which needs CAP_NET_BIND_SERVICE)' })),
    bind: Type.Optional(
      Type.String({ minLength: 2, maxLength: 45, pattern: '^[0-9A-Fa-f.:]+$', description: 'local address to listen on (default 127.0.0.1; 0.0.0.0 or :: to hear the network)' }),
    ),
    host: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'sender host name (or address when the message names none), any case; * matches any run of characters' })),
    app: Type.Optional(Type.String({ minLength: 1, maxLength: 48, description: 'APP-NAME / TAG, exact case; * matches any run of characters' })),
    facility: Type.Optional(Type.Union([FacilityName, Type.Array(FacilityName, { minItems: 1, maxItems: FACILITIES.length })], { description: 'one facility or a list' })),
    severity: Type.Optional(Type.Union(SEVERITIES.map((s) => Type.Literal(s)), { description: 'this severity or more severe (err counts err, crit, alert, emerg)' })),
    pattern: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1024, description: 'regular expression (RE2 syntax: no backreferences or lookaround; linear time) searched in the first 65,536 characters of the message text' }),
    ),
    ignoreCase: Type.Optional(Type.Boolean({ description: 'pattern ignores case (default false)' })),
    maxMessageBytes: Type.Optional(
      Type.Integer({ minimum: 480, maximum: 65536, description: 'longer messages are rejects; on a listener the largest any of its indicators asks for applies (default 8192)' }),
    ),
  },
  { additionalProperties: false },
);
export type SyslogParams = Static<typeof SyslogParams>;

const DEFAULT_PORT = 514;
const DEFAULT_BIND = '127.0.0.1';
const DEFAULT_MAX_BYTES = 8192;

/**
 * Compiles an indicator's filters into one test. The pattern and the globs run on the linear-time
 * engine of @probemesh/expr; throws ExprCheckError (with the position in the pattern) for a
 * pattern it cannot run.
 */
export function compileFilter(p: SyslogParams): (m: SyslogMessage) => boolean {
  const tests: Array<(m: SyslogMessage) => boolean> = [];
  if (p.severity) {
    const max = SEVERITIES.indexOf(p.severity);
    tests.push((m) => m.severity <= max);
  }
  if (p.facility) {
    const mask = (Array.isArray(p.facility) ? p.facility : [p.facility]).reduce((a, f) => a | (1 << FACILITIES.indexOf(f)), 0);
    tests.push((m) => ((mask >> m.facility) & 1) === 1);
  }
  if (p.host) {
    const is = glob(p.host, true);
    tests.push((m) => is(m.host));
  }
  if (p.app) {
    const is = glob(p.app, false);
    tests.push((m) => is(m.app));
  }
  if (p.pattern) {
    const re = compilePattern(p.pattern, { ignoreCase: p.ignoreCase ?? false });
    tests.push((m) => re.test(m.msg));
  }
  return (m) => {
    for (const t of tests) if (!t(m)) return false;
    return true;
  };
}

/** Why an indicator's parameters cannot be used (a pattern the engine cannot run), or undefined. */
export function syslogParamsProblem(p: SyslogParams): string | undefined {
  try {
    compileFilter(p);
  } catch (err) {
    if (err instanceof ExprCheckError) return `pattern ${JSON.stringify(p.pattern)}: ${err.message}`;
    throw err;
  }
  if (isIP(p.bind ?? DEFAULT_BIND) === 0) return `bind ${JSON.stringify(p.bind)} is not an IP address`;
  return undefined;
}

/** A name test: exact (optionally any case), or a glob where * matches any run of characters. */
function glob(g: string, anyCase: boolean): (s: string) => boolean {
  if (!g.includes('*')) {
    const want = anyCase ? g.toLowerCase() : g;
    return anyCase ? (s) => s === g || s.toLowerCase() === want : (s) => s === g;
  }
  const re = compilePattern(`(?s)^${g.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, { ignoreCase: anyCase });
  return (s) => re.test(s);
}

/** One indicator's watch: where it listens, its parameters' key, and its read window. */
interface IndicatorWatch extends Watch {
  key: string;
  params: SyslogParams;
  listener?: Listener;
  /** Why the indicator cannot be read (a bad pattern). */
  error?: string;
  since: number;
  /** kernel_drops: the socket's drop counter at the previous read. */
  drops: number;
}

/** Options of a syslog connector instance; `syslogConnector` uses the defaults (`TCP_LIMITS`). */
export type SyslogConnectorOptions = Partial<TcpLimits>;

const listenerKey = (p: SyslogParams) => `${p.transport ?? 'udp'} ${p.bind ?? DEFAULT_BIND} ${p.port ?? DEFAULT_PORT}`;
const paramsKey = (p: SyslogParams) =>
  JSON.stringify([p.measure, listenerKey(p), p.host, p.app, p.facility, p.severity, p.pattern, p.ignoreCase, p.maxMessageBytes]);

/**
 * Makes a `syslog` connector: UDP and TCP listeners, opened and closed by `sync`, shared by every
 * indicator on the same transport, address and port. Each read reports what arrived since that
 * indicator's previous read. Malformed messages are counted as rejects and change nothing else;
 * an exception while handling one is contained (counted, logged, never an exit).
 */
export function createSyslogConnector(options: SyslogConnectorOptions = {}): Connector<typeof SyslogParams> {
  const limits: TcpLimits = { ...TCP_LIMITS, ...options };
  return defineConnector({
  scheme: 'syslog',
  summary: 'counts, rates and last text of matching syslog messages (RFC 3164/5424 over UDP and TCP)',
  params: SyslogParams,
  perDevice: false,
  counters: ['messages', 'rejects', 'rejects_pri', 'rejects_header', 'rejects_oversize', 'rejects_framing', 'rejects_exception', 'tcp_refused', 'tcp_evicted', 'tcp_idle_closed', 'listen_errors', 'kernel_drops'],
  check: syslogParamsProblem,
  start: (ctx) => {
    const now = () => ctx.clock.now();
    const stats: ListenerStats = {
      messages: 0,
      rejects: 0,
      rejects_pri: 0,
      rejects_header: 0,
      rejects_oversize: 0,
      rejects_framing: 0,
      rejects_exception: 0,
      tcp_refused: 0,
      tcp_evicted: 0,
      tcp_idle_closed: 0,
      listen_errors: 0,
    };
    const contain = new Containment(ctx.clock, ctx.log, 'syslog');
    const listeners = new Map<string, Listener>();
    const watches = new Map<string, IndicatorWatch>();
    let stopped = false;
    let queue: Promise<void> = Promise.resolve();

    /** A listener's size limit is the largest its watches ask for, or the default when none asks. */
    const resize = (l: Listener) => {
      let max = 0;
      for (const w of l.watches) max = Math.max(max, (w as IndicatorWatch).params.maxMessageBytes ?? 0);
      l.maxBytes = max || DEFAULT_MAX_BYTES;
    };

    const drop = (id: string, w: IndicatorWatch) => {
      watches.delete(id);
      if (!w.listener) return;
      w.listener.watches.delete(w);
      resize(w.listener);
    };

    /** Points `req.indicator` at its listener; a new or changed indicator starts a fresh window. */
    const want = (req: ReadRequest<SyslogParams>, at: number) => {
      const p = req.params;
      const key = paramsKey(p);
      const old = watches.get(req.indicator);
      if (old?.key === key) return;
      if (old) drop(req.indicator, old);
      const w: IndicatorWatch = { key, params: p, match: () => false, count: 0, rejects: 0, since: at, drops: 0 };
      watches.set(req.indicator, w);
      const problem = syslogParamsProblem(p);
      if (problem) return void (w.error = problem);
      w.match = compileFilter(p);
      const lk = listenerKey(p);
      let l = listeners.get(lk);
      if (!l) listeners.set(lk, (l = new Listener((p.transport ?? 'udp') as Transport, p.bind ?? DEFAULT_BIND, p.port ?? DEFAULT_PORT, DEFAULT_MAX_BYTES, stats, contain, limits, now)));
      l.watches.add(w);
      w.listener = l;
      w.drops = l.kernelDrops();
      resize(l);
    };

    /**
     * Watches `requests`; with `exact` (a sync: the probe's whole active set) also lets go of every
     * other indicator. Then opens listeners that should listen and closes those nobody watches.
     */
    const apply = (requests: ReadonlyArray<ReadRequest<SyslogParams>>, exact: boolean): Promise<void> =>
      (queue = queue.catch(() => undefined).then(async () => { // one failed step must not wedge later ones
        if (stopped) return;
        const at = now();
        for (const r of requests) want(r, at);
        if (exact) {
          const active = new Set(requests.map((r) => r.indicator));
          for (const [id, w] of watches) if (!active.has(id)) drop(id, w);
        }
        for (const [k, l] of listeners) {
          if (l.watches.size === 0) {
            listeners.delete(k);
            await l.stop();
            ctx.log('info', `closed ${l.name}`);
          } else if (!l.open) {
            const before = l.error;
            await l.start();
            if (l.open) ctx.log('info', `listening on ${l.name}`);
            else if (l.error !== before) ctx.log('warn', l.error!);
          }
        }
      }));

    const readOne = (req: ReadRequest<SyslogParams>, at: number): Reading => {
      const w = watches.get(req.indicator);
      if (!w) return failure('config', 'syslog session stopped', false);
      if (w.error) return failure('config', w.error, false);
      const l = w.listener!;
      if (!l.open) return failure('config', l.error ?? `${l.name} is not listening`, true);
      const { count, rejects, last } = w;
      const seconds = (at - w.since) / 1000;
      w.count = 0;
      w.rejects = 0;
      w.last = undefined;
      w.since = at;
      switch (req.params.measure) {
        case 'count':
          return reading(count);
        case 'rate_per_s':
          return reading(seconds > 0 ? count / seconds : 0);
        case 'rejects':
          return reading(rejects);
        case 'kernel_drops': {
          const drops = l.kernelDrops();
          const n = Math.max(0, drops - w.drops);
          w.drops = drops;
          return reading(n);
        }
        case 'last_message':
          // Nothing matched in this window: no sample (nothing stored), rather than a failure.
          return last === undefined ? { ok: true, samples: [] } : reading(last);
      }
    };

    return {
      async sync(requests) {
        await apply(requests, true);
      },
      async read(requests) {
        const fresh = requests.filter((r) => watches.get(r.indicator)?.key !== paramsKey(r.params));
        if (fresh.length) await apply(fresh, false); // read without a sync first (or with changed params)
        const at = now();
        return requests.map((r) => readOne(r, at));
      },
      stats() {
        let open = 0;
        let connections = 0;
        let drops = 0;
        for (const l of listeners.values()) {
          if (l.open) open++;
          connections += l.connections;
          drops += l.kernelDrops();
        }
        return { ...stats, kernel_drops: drops, listeners: open, tcp_connections: connections, tcp_max_connections: limits.maxConnections };
      },
      async stop() {
        stopped = true;
        await queue;
        const all = [...listeners.values()];
        listeners.clear();
        watches.clear();
        await Promise.all(all.map((l) => l.stop()));
      },
    };
  },
  });
}

/** The syslog connector with the default limits. */
export const syslogConnector = createSyslogConnector();
