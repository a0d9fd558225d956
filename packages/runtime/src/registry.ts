import type { Connector, ConnectorContext, ConnectorSession } from '@probemesh/core';
import { UnprocessableError, messageOf } from '@probemesh/core';

/** The connectors a probe was built with, by scheme; sessions start on first use and stop with the probe. */
export class ConnectorRegistry {
  private readonly byScheme = new Map<string, Connector>();
  private readonly sessions = new Map<string, Promise<ConnectorSession>>();
  private readonly started = new Map<string, ConnectorSession>();

  constructor(
    connectors: readonly Connector[],
    private readonly ctx: (scheme: string) => ConnectorContext,
  ) {
    for (const c of connectors) {
      if (this.byScheme.has(c.scheme)) throw new Error(`two connectors register scheme '${c.scheme}'`);
      this.byScheme.set(c.scheme, c);
    }
  }

  /** The connector of `scheme`, or a 422 error listing the known schemes. */
  get(scheme: string): Connector {
    const c = this.byScheme.get(scheme);
    if (!c) throw new UnprocessableError(`no connector for scheme '${scheme}' (this probe has: ${this.schemes().join(', ') || 'none'})`);
    return c;
  }

  has(scheme: string): boolean {
    return this.byScheme.has(scheme);
  }

  schemes(): string[] {
    return [...this.byScheme.keys()].sort();
  }

  all(): Connector[] {
    return [...this.byScheme.values()];
  }

  /** The running session of `scheme`, started on first use; a failed start is retried next time. */
  session(scheme: string): Promise<ConnectorSession> {
    let s = this.sessions.get(scheme);
    if (!s) {
      const c = this.get(scheme);
      s = Promise.resolve()
        .then(() => c.start(this.ctx(scheme)))
        .then((session) => {
          this.started.set(scheme, session);
          return session;
        })
        .catch((err: unknown) => {
          this.sessions.delete(scheme);
          throw new Error(`connector '${scheme}' did not start: ${messageOf(err)}`, { cause: err });
        });
      this.sessions.set(scheme, s);
    }
    return s;
  }

  /** Self-metrics of the started sessions. */
  stats(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [scheme, session] of this.started) {
      const st = session.stats?.();
      if (st) out[scheme] = st;
    }
    return out;
  }

  /** Stops every started session. Idempotent. */
  async stop(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.started.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.stop()));
  }
}
