import type { Connector, ConnectorContext, ConnectorSession, ReadRequest } from '@probemesh/core';
import { ConflictError, ProbemeshError, UnprocessableError, messageOf } from '@probemesh/core';

/** The connectors a probe was built with, by scheme; sessions start on first use and stop with the probe. */
export class ConnectorRegistry {
  private readonly byScheme = new Map<string, Connector>();
  private readonly sessions = new Map<string, Promise<ConnectorSession>>();
  private readonly started = new Map<string, ConnectorSession>();
  /** What each rule reads, by scheme: continuous connectors are synced with the union over rules. */
  private readonly wanted = new Map<string, Map<string, ReadRequest[]>>();
  /** The union last synced per scheme (as a key), so an unchanged set costs no sync. */
  private readonly synced = new Map<string, string>();
  private syncing = Promise.resolve();

  constructor(
    connectors: readonly Connector[],
    private readonly ctx: (scheme: string) => ConnectorContext,
  ) {
    for (const c of connectors) {
      if (this.byScheme.has(c.scheme)) throw new ConflictError(`two connectors register scheme '${c.scheme}'`);
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
          throw new ProbemeshError(`connector '${scheme}' did not start: ${messageOf(err)}`, { cause: err, retryable: true });
        });
      this.sessions.set(scheme, s);
    }
    return s;
  }

  /**
   * Declares what rule `rule` reads now from continuous connectors, by scheme (an empty map:
   * nothing, e.g. when it stops).
   * Connectors with `sync` (captures, listeners) are told the union over every rule whenever it
   * changes, so they open what is wanted as soon as a rule exists and close what no rule reads.
   */
  declare(rule: string, byScheme: ReadonlyMap<string, ReadRequest[]>): Promise<void> {
    const touched = new Set<string>(byScheme.keys());
    for (const [scheme, rules] of this.wanted) {
      if (rules.delete(rule)) touched.add(scheme);
    }
    for (const [scheme, requests] of byScheme) {
      let rules = this.wanted.get(scheme);
      if (!rules) this.wanted.set(scheme, (rules = new Map()));
      rules.set(rule, requests);
    }
    const run = async () => {
      for (const scheme of touched) {
        if (!this.has(scheme)) continue;
        const union = [...(this.wanted.get(scheme)?.values() ?? [])].flat();
        const key = JSON.stringify(union.map((r) => [r.indicator, r.device?.id, r.params, r.deviceParams]));
        if (this.synced.get(scheme) === key || (union.length === 0 && !this.sessions.has(scheme))) continue;
        const session = await this.session(scheme);
        this.synced.set(scheme, key);
        await session.sync?.(union);
      }
    };
    // One sync at a time, in order; a failed one is retried by the next declare.
    const next = this.syncing.then(run).catch((err: unknown) => {
      for (const scheme of touched) this.synced.delete(scheme);
      throw err;
    });
    this.syncing = next.catch(() => undefined);
    return next;
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
    this.wanted.clear();
    this.synced.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.stop()));
  }
}
