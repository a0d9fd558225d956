import { messageOf, type FailureKind } from '@probemesh/core';
import type { Session, Varbind } from 'net-snmp';
import snmp from 'net-snmp';
import { containedDgram } from './dgram.js';
import type { SnmpDevice } from './schema.js';

/** Settings of one agent with every default filled in. */
export interface AgentSettings {
  host: string;
  port: number;
  version: '1' | '2c' | '3';
  community: string;
  user?: NonNullable<SnmpDevice['user']>;
  context?: string;
  timeoutMs: number;
  retries: number;
  maxRepetitions: number;
}

/** Fills in defaults: v2c, community "public", port 161, 2 s per try, one retry, 25 repetitions. */
export function agentSettings(host: string, d: SnmpDevice | undefined): AgentSettings {
  const v = String(d?.version ?? '2c');
  return {
    host,
    port: d?.port ?? 161,
    version: v === '1' ? '1' : v === '3' ? '3' : '2c',
    community: d?.community ?? 'public',
    ...(d?.user ? { user: d.user } : {}),
    ...(d?.context ? { context: d.context } : {}),
    timeoutMs: d?.timeoutMs ?? 2000,
    retries: d?.retries ?? 1,
    maxRepetitions: d?.maxRepetitions ?? 25,
  };
}

/** A failure of a whole SNMP request, classified for a Reading. */
export class SnmpFailure extends Error {
  override name = 'SnmpFailure';
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly status?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const authProtocols = { MD5: 'md5', SHA: 'sha', 'SHA-224': 'sha224', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;
const privProtocols = { DES: 'des', AES: 'aes', 'AES-256-B': 'aes256b', 'AES-256-R': 'aes256r' } as const;

/** Checks settings that the schema cannot (v3 needs a user whose keys match its level); returns what is wrong. */
export function settingsProblem(s: AgentSettings): string | undefined {
  if (s.version !== '3') return undefined;
  const u = s.user;
  if (!u) return 'SNMP v3 needs `user` in the device settings';
  if (u.level !== 'noAuthNoPriv' && (!u.authProtocol || !u.authKey)) return `SNMP v3 user '${u.name}' at level ${u.level} needs authProtocol and authKey`;
  if (u.level === 'authPriv' && (!u.privProtocol || !u.privKey)) return `SNMP v3 user '${u.name}' at level authPriv needs privProtocol and privKey`;
  return undefined;
}

/** A text that changes whenever anything that needs a new net-snmp session changes (address, credentials, timing). */
export function settingsKey(s: AgentSettings): string {
  return JSON.stringify([s.host, s.port, s.version, s.version === '3' ? s.user : s.community, s.context, s.timeoutMs, s.retries]);
}

/** `host:port` of an agent, as people write it. */
export const where = (s: AgentSettings) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;

/** One cached net-snmp session to one agent, with promise-returning reads that honour an AbortSignal. */
export class Agent {
  readonly session: Session;
  /** Replies the session could not decode (garbage, truncated packets). */
  garbage = 0;
  lastGarbage?: string;
  closed = false;
  /** Rejecters of the requests in flight, failed at once when a reply throws inside net-snmp. */
  private readonly inFlight = new Set<(err: SnmpFailure) => void>();

  constructor(
    readonly settings: AgentSettings,
    /** `settingsKey(settings)`: a session is reused only while this stays the same. */
    readonly key: string,
    onGarbage: (message: string) => void,
    /** An exception net-snmp threw while handling a reply (contained: it never ends the process). */
    onThrow: (err: unknown) => void,
  ) {
    const s = settings;
    const dgramModule = containedDgram((err) => {
      onThrow(err);
      const failure = new SnmpFailure('bad-response', `a reply from ${where(s)} could not be processed: ${messageOf(err)}`, undefined, { cause: err });
      for (const reject of [...this.inFlight]) reject(failure);
    });
    const options = {
      dgramModule,
      port: s.port,
      retries: s.retries,
      timeout: s.timeoutMs,
      transport: s.host.includes(':') ? ('udp6' as const) : ('udp4' as const),
      ...(s.context ? { context: s.context } : {}),
    };
    if (s.version === '3') {
      const u = s.user!;
      this.session = snmp.createV3Session(s.host, {
        name: u.name,
        level: snmp.SecurityLevel[u.level],
        ...(u.authProtocol ? { authProtocol: snmp.AuthProtocols[authProtocols[u.authProtocol]], authKey: u.authKey! } : {}),
        ...(u.privProtocol ? { privProtocol: snmp.PrivProtocols[privProtocols[u.privProtocol]], privKey: u.privKey! } : {}),
      }, { ...options, version: snmp.Version3 });
    } else {
      this.session = snmp.createSession(s.host, s.community, { ...options, version: s.version === '1' ? snmp.Version1 : snmp.Version2c });
    }
    // An undecodable reply is emitted as 'error'; without a listener it would crash the process.
    this.session.on('error', (err: Error) => {
      this.garbage++;
      this.lastGarbage = err.message;
      onGarbage(err.message);
    });
    this.session.on('close', () => {
      this.closed = true;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.session.close();
    } catch {
      // already closed by a socket error
    }
  }

  /** GET of `oids` in one request; varbinds in request order. */
  get(oids: string[], signal: AbortSignal): Promise<Varbind[]> {
    return this.call(signal, (done) => this.session.get(oids, done));
  }

  /**
   * Every varbind under `oid` (GetBulk for v2c/v3, GetNext for v1), stopping after `limit` + 1
   * rows so that a runaway walk is bounded.
   */
  walk(oid: string, limit: number, signal: AbortSignal): Promise<Varbind[]> {
    const rows: Varbind[] = [];
    return this.call(signal, (done) =>
      this.session.subtree(
        oid,
        this.settings.maxRepetitions,
        (vbs) => {
          for (const vb of vbs) if (!snmp.isVarbindError(vb)) rows.push(vb);
          return signal.aborted || rows.length > limit;
        },
        (err) => done(err, rows),
      ),
    );
  }

  /** Runs one net-snmp request as a promise that settles at once when `signal` aborts (the request then ends unheard). */
  private call<T>(signal: AbortSignal, start: (done: (err: Error | null, result: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(this.aborted(signal));
      if (this.closed) return reject(new SnmpFailure('unreachable', `session to ${where(this.settings)} is closed`));
      const garbageBefore = this.garbage;
      const fail = (err: SnmpFailure) => {
        signal.removeEventListener('abort', onAbort);
        this.inFlight.delete(fail);
        reject(err);
      };
      const onAbort = () => fail(this.aborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      this.inFlight.add(fail);
      const done = (err: Error | null, result: T) => {
        if (err) return fail(this.classify(err, this.garbage - garbageBefore));
        signal.removeEventListener('abort', onAbort);
        this.inFlight.delete(fail);
        resolve(result);
      };
      try {
        start(done);
      } catch (err) {
        done(err as Error, undefined as T);
      }
    });
  }

  private aborted(signal: AbortSignal): SnmpFailure {
    const why = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
    return new SnmpFailure('timeout', `no answer from ${where(this.settings)} before the read was cancelled (${why})`);
  }

  /** Maps a net-snmp error onto a failure kind with a message an operator can act on. */
  classify(err: Error, garbageSince: number): SnmpFailure {
    const s = this.settings;
    const at = where(s);
    if (err instanceof snmp.RequestTimedOutError) {
      const tries = s.retries + 1;
      const hint =
        garbageSince > 0
          ? `; ${garbageSince} undecodable repl${garbageSince === 1 ? 'y' : 'ies'} came back (${this.lastGarbage}): is this an SNMP agent?`
          : s.version === '3'
            ? '; is the agent up, and are the port and v3 user right?'
            : `; is the agent up, and are the port and community right (a wrong community gets no answer)?`;
      return new SnmpFailure('timeout', `no answer from ${at} in ${tries} ${tries === 1 ? 'try' : 'tries'} of ${s.timeoutMs} ms${hint}`, undefined, { cause: err });
    }
    if (err instanceof snmp.ResponseInvalidError) {
      if (err.code === snmp.ResponseInvalidCode.EAuthFailure || err.code === snmp.ResponseInvalidCode.ECouldNotDecrypt)
        return new SnmpFailure('refused', `${at} refused SNMP v3 user '${s.user?.name}': ${err.message}`, undefined, { cause: err });
      return new SnmpFailure('bad-response', `bad reply from ${at}: ${err.message}`, undefined, { cause: err });
    }
    if (err instanceof snmp.RequestFailedError) {
      const status = snmp.ErrorStatus[err.status] ?? String(err.status);
      const kind = status === 'AuthorizationError' || status === 'NoAccess' ? 'refused' : status === 'NoSuchName' ? 'not-found' : 'bad-response';
      return new SnmpFailure(kind, `${at} answered ${err.message}`, status, { cause: err });
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_OSSL_EVP_UNSUPPORTED')
      return new SnmpFailure('config', `this Node.js build cannot do ${s.user?.privProtocol} privacy (${err.message}); use AES, or run node with --openssl-legacy-provider`, undefined, { cause: err });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ECONNREFUSED' || code === 'EADDRNOTAVAIL')
      return new SnmpFailure('unreachable', `cannot reach ${at}: ${err.message}`, undefined, { cause: err });
    if (err instanceof snmp.RequestInvalidError) return new SnmpFailure('config', `cannot build the request to ${at}: ${err.message}`, undefined, { cause: err });
    return new SnmpFailure('unreachable', `request to ${at} failed: ${err.message}`, undefined, { cause: err });
  }
}
