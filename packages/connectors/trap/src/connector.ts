import type { Connector, ConnectorContext, ConnectorSession, ReadRequest, Reading, TimerHandle } from '@probemesh/core';
import { Containment, defineConnector, failure, messageOf, reading } from '@probemesh/core';
import { MibResolver, mibDirsFromEnv, type SnmpUser } from '@probemesh/connector-snmp';
import { TrapListener, type TrapCounts, type Watch } from './listener.js';
import { TrapParams } from './schema.js';

/** Options of a trap connector instance. */
export interface TrapConnectorOptions {
  /** Directories (or files) of extra MIB modules for trap and varbind names; default: PROBEMESH_MIB_DIRS split on ':'. */
  mibDirs?: readonly string[];
  /**
   * How long a watch that no sync names stays open (default 0: the probe syncs the union of all
   * its rules' requests, so each sync is the complete set). Set it for hosts that sync partial sets.
   */
  lingerMs?: number;
}

type Req = ReadRequest<TrapParams>;

const DEFAULT_PORT = 162;
const DEFAULT_ADDRESS = '127.0.0.1';

/** Why a v3 user cannot be used at its level, if it cannot. */
function userProblem(u: SnmpUser): string | undefined {
  if (u.level !== 'noAuthNoPriv' && (!u.authProtocol || !u.authKey)) return `user '${u.name}' at level ${u.level} needs authProtocol and authKey`;
  if (u.level === 'authPriv' && (!u.privProtocol || !u.privKey)) return `user '${u.name}' at level authPriv needs privProtocol and privKey`;
  return undefined;
}

/** A running trap connector: listeners by address and port, one watch per indicator. */
class TrapSession implements ConnectorSession<TrapParams> {
  private readonly listeners = new Map<string, TrapListener>();
  private readonly watches = new Map<string, Watch>();
  /** Listeners still letting go of their port, by address|port. */
  private readonly closing = new Map<string, Promise<void>>();
  private readonly counts: TrapCounts = {
    datagrams: 0,
    traps: 0,
    informs: 0,
    matched: 0,
    unmatched: 0,
    rejects: 0,
    rejects_auth: 0,
    rejects_garbage: 0,
    rejects_exception: 0,
    acks_repaired: 0,
    duplicates: 0,
    bind_errors: 0,
  };
  private readonly contain: Containment;
  private sweepTimer?: TimerHandle;
  private stopped = false;

  constructor(
    private readonly ctx: ConnectorContext,
    private readonly mibs: MibResolver,
    private readonly lingerMs: number,
  ) {
    this.contain = new Containment(ctx.clock, ctx.log, 'trap');
  }

  async sync(requests: ReadonlyArray<Req>): Promise<void> {
    if (this.stopped) return;
    const now = this.ctx.clock.now();
    await Promise.all(requests.map((r) => this.watch(r, now, true)));
    const named = new Set(requests.map((r) => r.indicator));
    await this.sweep(now, named);
    if (this.lingerMs > 0) {
      // Close what nobody names any more even if no sync comes again (every trap rule removed).
      if (this.sweepTimer) this.ctx.clock.clearTimeout(this.sweepTimer);
      this.sweepTimer = this.ctx.clock.setTimeout(() => void this.sweep(this.ctx.clock.now(), new Set()), this.lingerMs + 1);
    }
  }

  async read(requests: ReadonlyArray<Req>, signal: AbortSignal): Promise<Reading[]> {
    if (this.stopped) return requests.map(() => failure('config', 'the trap connector is stopped'));
    const now = this.ctx.clock.now();
    let onAbort = () => {};
    const aborted = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      if (signal.aborted) resolve(undefined);
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.all(requests.map((r) => this.readOne(r, now, aborted, signal)));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** One request's reading; a read without a sync opens the listener too (counting from now). */
  private async readOne(r: Req, now: number, aborted: Promise<undefined>, signal: AbortSignal): Promise<Reading> {
    const w = await Promise.race([this.watch(r, now, false), aborted]);
    if (!w) return failure('timeout', `indicator ${r.indicator}: aborted while opening its listener: ${messageOf(signal.reason)}`);
    if (w.problem) return failure('config', `indicator ${r.indicator}: ${w.problem}`);
    const l = w.listener;
    if (!l || l.state !== 'open') return failure('config', l?.error ?? `indicator ${r.indicator}: its listener is closed`, l?.errorCode === 'EADDRINUSE');
    switch (w.measure) {
      case 'count':
      case 'rejects': {
        const n = w.pending;
        w.pending = 0;
        return reading(n);
      }
      case 'kernel_drops': {
        const drops = l.kernelDrops();
        const n = Math.max(0, drops - w.drops);
        w.drops = drops;
        return reading(n);
      }
      case 'last_value':
      case 'last_trap_oid':
        return w.last === undefined ? { ok: true, samples: [] } : reading(w.last);
    }
  }

  /** The watch of a request: kept while its parameters stay the same, else (re)made and attached to its listener. */
  private async watch(r: Req, now: number, retry: boolean): Promise<Watch> {
    const key = JSON.stringify(r.params);
    let w = this.watches.get(r.indicator);
    const broken = w?.listener === undefined && !w?.problem;
    if (w && (w.key !== key || (retry && (broken || w.listener?.state === 'failed')))) {
      await this.drop(w);
      w = undefined;
    }
    if (!w) {
      w = this.make(r, key);
      this.watches.set(r.indicator, w);
      if (!w.problem) {
        const lk = `${w.address}|${w.port}`;
        const closing = this.closing.get(lk);
        if (closing && !this.listeners.has(lk)) await closing; // the port is free once the closing listener has let go
        let l = this.listeners.get(lk);
        if (!l && !this.stopped) {
          l = new TrapListener(w.address, w.port, w.engineID, {
            counts: this.counts,
            contain: this.contain,
            log: this.ctx.log,
            closed: (gone) => {
              if (this.listeners.get(lk) === gone) this.listeners.delete(lk);
            },
          });
          this.listeners.set(lk, l);
        }
        const conflict = l?.add(w);
        if (conflict) w.problem = conflict;
      }
    }
    w.named = now;
    await w.listener?.ready;
    return w;
  }

  /** A new watch from checked parameters; names are resolved here, and what cannot be used becomes its `problem`. */
  private make(r: Req, key: string): Watch {
    const p = r.params;
    const users = new Map((p.users ?? []).map((u) => [u.name, u]));
    const base = {
      indicator: r.indicator,
      key,
      measure: p.measure,
      address: p.address ?? DEFAULT_ADDRESS,
      port: p.port ?? DEFAULT_PORT,
      communities: new Set(p.communities ?? ['public']),
      users,
      ...(p.engineID ? { engineID: p.engineID.replace(/^0x/, '').toLowerCase() } : {}),
      ...(p.agent ? { agent: p.agent } : {}),
      pending: 0,
      drops: 0,
      named: 0,
    };
    try {
      const problem = [...users.values()].map(userProblem).find(Boolean) ?? (users.size !== (p.users ?? []).length ? 'two users share a name' : undefined);
      if (problem) return { ...base, problem };
      return {
        ...base,
        ...(p.trapOid ? { trapOid: this.mibs.resolve(p.trapOid) } : {}),
        ...(p.varbind ? { varbind: this.mibs.resolve(p.varbind) } : {}),
      };
    } catch (err) {
      return { ...base, problem: messageOf(err) };
    }
  }

  /** Forgets a watch, closing its listener when it was the last one there. */
  private async drop(w: Watch): Promise<void> {
    if (this.watches.get(w.indicator) === w) this.watches.delete(w.indicator);
    const l = w.listener;
    if (!l) return;
    l.remove(w);
    if (l.watches.size > 0) return;
    const lk = `${l.address}|${l.port}`;
    const done = l.close().finally(() => {
      if (this.closing.get(lk) === done) this.closing.delete(lk);
    });
    this.closing.set(lk, done);
    await done;
  }

  /** Drops the watches neither named now nor within `lingerMs`. */
  private async sweep(now: number, named: ReadonlySet<string>): Promise<void> {
    const stale = [...this.watches.values()].filter((w) => !named.has(w.indicator) && now - w.named >= this.lingerMs);
    for (const w of stale) await this.drop(w);
  }

  stats(): Record<string, number> {
    const open = [...this.listeners.values()].filter((l) => l.state === 'open');
    return { ...this.counts, kernel_drops: open.reduce((n, l) => n + l.kernelDrops(), 0), listeners_open: open.length, watches: this.watches.size };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) this.ctx.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    const all = [...this.listeners.values()];
    this.listeners.clear();
    this.watches.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}

/** Makes a trap connector; `trapConnector` is one with the defaults. */
export function createTrapConnector(options: TrapConnectorOptions = {}): Connector<typeof TrapParams> {
  const mibs = new MibResolver(options.mibDirs ?? mibDirsFromEnv());
  const lingerMs = Math.max(0, options.lingerMs ?? 0);
  return defineConnector({
    scheme: 'trap',
    summary: 'SNMP v1/v2c/v3 trap and inform receiver: matching traps counted, their trap OID and varbinds as values',
    params: TrapParams,
    perDevice: false,
    counters: ['datagrams', 'traps', 'informs', 'matched', 'unmatched', 'rejects', 'rejects_auth', 'rejects_garbage', 'rejects_exception', 'acks_repaired', 'duplicates', 'bind_errors', 'kernel_drops'],
    start: (ctx) => new TrapSession(ctx, mibs, lingerMs),
  });
}

/** The trap connector with default options. */
export const trapConnector = createTrapConnector();
