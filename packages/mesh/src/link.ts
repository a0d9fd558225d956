import { connect, errors as natsErrors, type NatsConnection } from '@nats-io/transport-node';
import { backoffDelay, messageOf, whenAborted, type BackoffPolicy, type ChildSpec, type Clock } from '@probemesh/core';
import type { NatsOptions } from '@probemesh/model';
import { loopChild, Waiters } from './child.js';
import { connectionOptions, credentialsOf } from './connect.js';
import { MeshConfigError, MeshUnavailableError } from './errors.js';
import type { Log } from './context.js';

/** Where a probe's link to NATS stands. */
export interface LinkState {
  status: 'connecting' | 'connected' | 'disconnected';
  /** When the link entered this status. */
  since: number;
  /** The server connected to (or last tried). */
  server?: string;
  /** Why the last attempt failed, or why the link dropped. */
  lastError?: string;
  /** Connection attempts since the last success. */
  attempts: number;
}

/** Node's codes of a TLS handshake that failed because of certificates: a setting to fix, not an outage. */
const TLS_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE']);

const retry: BackoffPolicy = { initialMs: 500, maxMs: 15_000, factor: 2, jitter: 0.3 };
/** A refused configuration is retried too (the server may be fixed), but slowly. */
const retryRefused: BackoffPolicy = { initialMs: 15_000, maxMs: 60_000, factor: 2, jitter: 0.3 };

/**
 * The connection to NATS, a supervised child of the mesh node. It keeps trying with jittered
 * back-off while NATS is unreachable (the probe measures and stores meanwhile); nats.js then
 * reconnects on its own, and a connection that closes anyway is replaced. Children that need NATS
 * wait for it with `connection()`; a refused configuration (credentials, TLS) is a
 * `MeshConfigError` that names the server, the user and what to fix.
 */
export class Link {
  private nc?: NatsConnection;
  private readonly connected = new Waiters();
  private readonly reconnects = new Waiters();
  private first?: { resolve(): void; reject(err: unknown): void };
  /** Settles after the first attempt: resolved whether or not NATS answered, rejected by a refused configuration. */
  readonly firstAttempt: Promise<void>;
  state: LinkState;
  /** When the current connection (or its last reconnect) was made; undefined while away. */
  connectedSince?: number;

  constructor(
    private readonly nats: NatsOptions,
    private readonly opts: { probe: string; clock: Clock; log: Log; onRefused: (err: MeshConfigError) => void },
  ) {
    this.state = { status: 'connecting', since: opts.clock.now(), attempts: 0 };
    this.firstAttempt = new Promise((resolve, reject) => (this.first = { resolve, reject }));
    this.firstAttempt.catch(() => undefined); // also reported through onRefused
  }

  /** The connection, once it is connected (waits while NATS is away or being reconnected to); rejects when `signal` aborts. */
  async connection(signal: AbortSignal): Promise<NatsConnection> {
    while (!this.nc || this.nc.isClosed() || this.state.status !== 'connected') await this.connected.wait(signal);
    return this.nc;
  }

  /** Resolves at the next reconnect (or replaced connection); rejects when `signal` aborts. */
  reconnected(signal: AbortSignal): Promise<void> {
    return this.reconnects.wait(signal);
  }

  /** The connection if there is one now. */
  get current(): NatsConnection | undefined {
    return this.nc && !this.nc.isClosed() ? this.nc : undefined;
  }

  private set(status: LinkState['status'], extra: Partial<LinkState> = {}): void {
    this.state = { ...this.state, status, since: this.opts.clock.now(), ...extra };
  }

  /** The child that connects and keeps the connection. */
  spec(): ChildSpec {
    return loopChild('connection', (signal) => this.run(signal));
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { clock, log } = this.opts;
    const servers = this.nats.servers.join(', ');
    try {
      while (!signal.aborted) {
        let nc: NatsConnection;
        try {
          nc = await connect({ ...connectionOptions(this.nats), name: `probemesh-${this.opts.probe}`, maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 5000 });
        } catch (err) {
          const e = this.classify(err);
          const attempts = this.state.attempts + 1;
          const wait = backoffDelay(attempts - 1, e instanceof MeshConfigError ? retryRefused : retry);
          this.set('connecting', { lastError: e.message, attempts });
          if (e instanceof MeshConfigError) {
            this.first?.reject(e);
            this.opts.onRefused(e);
          } else if (attempts === 1 || attempts % 10 === 0) {
            log('warn', `${e.message}; measuring and storing locally, retrying (attempt ${attempts}, next in ${wait} ms)`);
          }
          this.first?.resolve();
          await clock.sleep(wait, signal);
          continue;
        }
        if (signal.aborted) {
          await nc.close();
          break;
        }
        this.nc = nc;
        this.connectedSince = clock.now();
        const wasAway = this.state.attempts > 0 || this.state.status === 'disconnected';
        this.set('connected', { server: nc.getServer(), attempts: 0, lastError: undefined });
        if (wasAway) log('info', `connected to NATS at ${nc.getServer()}`);
        this.first?.resolve();
        this.connected.wake();
        this.reconnects.wake();
        const closed = await this.watch(nc, signal);
        if (signal.aborted) break;
        this.nc = undefined;
        this.connectedSince = undefined;
        const e = closed ? this.classify(closed) : new MeshUnavailableError(`the connection to NATS at ${servers} closed`);
        this.set('disconnected', { lastError: e.message });
        if (e instanceof MeshConfigError) this.opts.onRefused(e);
        else log('warn', `${e.message}; connecting again`);
      }
    } finally {
      const nc = this.nc;
      this.nc = undefined;
      this.connectedSince = undefined;
      await nc?.drain().catch(() => nc.close());
    }
  }

  /** Follows a connection's status until it closes; resolves with why it closed, if it says. */
  private async watch(nc: NatsConnection, signal: AbortSignal): Promise<Error | void> {
    const { clock, log } = this.opts;
    void (async () => {
      for await (const s of nc.status()) {
        switch (s.type) {
          case 'disconnect':
            this.connectedSince = undefined;
            this.set('disconnected', { lastError: `lost ${s.server}` });
            log('warn', `lost NATS at ${s.server}; measuring and storing locally, reconnecting`);
            break;
          case 'reconnect':
            this.connectedSince = clock.now();
            this.set('connected', { server: s.server, lastError: undefined });
            log('info', `reconnected to NATS at ${s.server}`);
            this.connected.wake();
            this.reconnects.wake();
            break;
          case 'error':
            this.state = { ...this.state, lastError: messageOf(s.error) };
            log('warn', `NATS: ${this.classify(s.error).message}`);
            break;
          default:
            break;
        }
      }
    })();
    const forget = whenAborted(signal, () => void nc.drain().catch(() => nc.close()));
    try {
      return await nc.closed();
    } finally {
      forget();
    }
  }

  /** What a connection failure means for whoever reads it: a setting to fix, or NATS away for now. */
  private classify(err: unknown): MeshConfigError | MeshUnavailableError {
    if (err instanceof MeshConfigError || err instanceof MeshUnavailableError) return err;
    const at = `NATS at ${this.nats.servers.join(', ')}`;
    const who = credentialsOf(this.nats);
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : undefined;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? (err as NodeJS.ErrnoException).code ?? '';
    if (err instanceof natsErrors.AuthorizationError || err instanceof natsErrors.UserAuthenticationExpiredError)
      return new MeshConfigError(
        `${at} refused ${who} of probe '${this.opts.probe}' (${messageOf(err)}): check the credentials in the probe's nats section (user/pass, token, nkeySeed or creds) against the server's authorization block (probemesh nats-auth writes one)`,
        { cause: err },
      );
    if (TLS_CODES.has(code) || /^ERR_(TLS|SSL)_/.test(code))
      return new MeshConfigError(`${at}: TLS failed for probe '${this.opts.probe}' (${messageOf(cause ?? err)}): check nats.tls (ca, cert, key) against the server's certificate and tls block`, { cause: err });
    return new MeshUnavailableError(`${at} is unreachable (${messageOf(cause ?? err)})`, { cause: err });
  }
}
