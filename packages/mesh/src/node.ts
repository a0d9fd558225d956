import { errors as natsErrors, type Msg } from '@nats-io/transport-node';
import { ProbemeshError, Supervisor, TimeoutError, flush, messageOf, systemClock, type ChildSpec, type ChildState, type Clock, type RestartPolicy } from '@probemesh/core';
import { ForwardedAnswer, ForwardedRequest, Query, QueryResult, check, fits, subjects, Type, type Alert, type Heartbeat, type MergedWindow, type NatsOptions, type ProbeConfig, type Role } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';
import type { Store } from '@probemesh/store';
import { loopChild } from './child.js';
import { AlertFollower, Merger } from './consumers.js';
import type { Log, MeshContext } from './context.js';
import { Coordination, DeadMan } from './coordination.js';
import { MeshChildFailedError, MeshConfigError, MeshUnavailableError, ProbeUnreachableError, reviveError } from './errors.js';
import { followConfig } from './flash.js';
import { Link, type LinkState } from './link.js';
import { Membership, jsonOf, subscriptionChild, type Member } from './membership.js';
import type { MergedWindows } from './merged.js';
import { JetStreamSink } from './sink.js';
import { PartialSender, type PartialsOptions, type Relays } from './sender.js';
import { StreamSetup, type StreamSettings } from './streams.js';

export type { Member } from './membership.js';

/** How a probe joins the mesh. */
export interface MeshOptions {
  id: string;
  role: Role;
  parent?: string;
  /** URL of this probe's HTTP API, announced in heartbeats. */
  http?: string;
  nats: NatsOptions;
  /** Time, injected (tests drive the node with a manual clock). Default: the system clock. */
  clock?: Clock;
  heartbeatMs?: number;
  /** A probe silent for this many heartbeats is gone (default 3). */
  missedHeartbeats?: number;
  /** Limits and replicas of PM_ALERTS and PM_PARTIALS, set when this probe joins (created with 7 days, no size limit, when missing). */
  streams?: StreamSettings;
  log?: Log;
  /** The probe's store: where partials are computed from, and the outbox, cursors and merged windows are kept. */
  store?: Store;
  /** Send these indicators' windows to the parent as partial aggregates. */
  partials?: PartialsOptions;
  /** Merge children's partials here (a coordinator); `children` limits whose (default: every probe's; the children waited for are those naming this probe their parent). */
  merged?: MergedWindows;
  children?: string[];
  /** A coordinator waits this long after a window ends for an alive child's late partial (default three windows). */
  graceMs?: number;
  /** Flash: each valid configuration put for this probe in KV `pm_config` goes to `apply` (in order, once); an invalid one to `invalid`. */
  config?: { apply(cfg: ProbeConfig, revision: number): Promise<void>; invalid(message: string, revision: number): void };
  /** Hears what the node cannot fix by itself after start: a refused configuration (`MeshConfigError`), a child that failed past its restart limit (`MeshChildFailedError`). */
  onFailure?: (err: ProbemeshError) => void;
  /** How the node's children are restarted (default: 0.5 s doubling up to 30 s, ±30 %; more than 5 crashes in 10 minutes fail a child). */
  supervision?: RestartPolicy;
  /**
   * For tests only: asked as each child starts; an error it returns is thrown from that start, a
   * crash (a fault no real part can be made to show on demand, e.g. to fail a child past its limit).
   */
  faultAt?: (child: string) => Error | undefined;
  /** Runs the API requests other probes forward here (`?probe=<this id>`) through this probe's route table. */
  api?: (req: ForwardedRequest) => Promise<ForwardedAnswer>;
  /** How long `stop()` waits for queued alerts to be delivered (default 2 s). */
  stopGraceMs?: number;
}

/** A query answer or a structured error, as it travels on `pm.query.<probe>`. */
const Reply = Type.Union([
  Type.Object({ ok: Type.Literal(true), result: Type.Unknown() }),
  Type.Object({ ok: Type.Literal(false), error: Type.Object({ name: Type.String(), message: Type.String(), issues: Type.Optional(Type.Unknown()) }) }),
]);
type Reply = { ok: true; result: QueryResult } | { ok: false; error: { name: string; message: string; issues?: unknown } };

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/**
 * A probe's presence on NATS, as a supervision tree: the connection, the streams' set-up, the query
 * responder, membership and heartbeats, and — as configured — the partial sender
 * (a delegate) or the merger, alert follower and dead-man watch (a coordinator). Each is a small
 * child with `start`/`stop` under a one-for-one `Supervisor` (restart with back-off; past the
 * intensity limit a child is failed and `onFailure` hears it), all on the injected clock. A probe
 * that cannot reach NATS keeps measuring and storing; only a refused configuration at start throws.
 */
export class MeshNode {
  private readonly ctx: MeshContext;
  private readonly supervisor: Supervisor;
  private readonly link: Link;
  private readonly setup: StreamSetup;
  private readonly members: Membership;
  private readonly coordination?: Coordination;
  private readonly sink: JetStreamSink;
  private removeSink?: () => Promise<void>;
  private readonly sender?: PartialSender;
  private readonly merger?: Merger;
  private readonly follower?: AlertFollower;
  private readonly started: string[] = [];
  private stopping?: Promise<void>;
  private refusedAtStart?: (err: MeshConfigError) => void;
  private configApplied = 0;
  private readonly heartbeatMs: number;

  private constructor(
    private readonly opts: MeshOptions,
    private readonly service: ProbeService,
  ) {
    const clock = opts.clock ?? systemClock;
    const log: Log = opts.log ?? (() => undefined);
    const refused = (err: MeshConfigError) => (this.refusedAtStart ? this.refusedAtStart(err) : this.fail(err));
    this.link = new Link(opts.nats, { probe: opts.id, clock, log, onRefused: refused });
    this.ctx = { id: opts.id, clock, log, link: this.link, js: opts.nats.jsDomain ? { domain: opts.nats.jsDomain } : {}, ...(opts.store ? { store: opts.store } : {}) };
    this.supervisor = new Supervisor({
      clock,
      backoff: { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.3 },
      ...opts.supervision,
      onEvent: (e) => {
        if (e.type === 'crashed') log('warn', `${e.id} crashed (${e.error}); restarting in ${e.retryInMs} ms`);
        if (e.type === 'failed') this.fail(new MeshChildFailedError(e.id, `mesh ${e.id} failed: it crashed too often (last: ${e.error})`));
      },
    });
    this.setup = new StreamSetup(this.ctx, opts.nats, opts.streams ?? {}, refused);
    const heartbeatMs = (this.heartbeatMs = opts.heartbeatMs ?? 5000);
    const missedHeartbeats = opts.missedHeartbeats ?? 3;
    this.members = new Membership(clock, heartbeatMs, missedHeartbeats, () => this.link.connectedSince);
    this.sink = new JetStreamSink(this.ctx, opts.nats);
    if (opts.partials && opts.store) {
      const relaying = opts.merged ? { merged: opts.merged, relays: () => this.relays() } : undefined;
      this.sender = new PartialSender({ ...this.ctx, store: opts.store }, opts.partials, opts.nats, relaying);
    }
    if (opts.merged) {
      const children = opts.children ? new Set(opts.children) : undefined;
      this.merger = new Merger(this.ctx, opts.merged, () => children);
      this.follower = new AlertFollower(this.ctx);
      this.coordination = new Coordination(this.ctx, this.members, this.merger.progress, { ...(opts.children ? { children: opts.children } : {}), ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}), missedHeartbeats, heartbeatMs });
      opts.merged.judgeWith(this.coordination);
    }
  }

  /** Starts the node; resolves once it is serving, or once the first attempt to reach NATS failed (it goes on retrying). */
  static async start(opts: MeshOptions, service: ProbeService): Promise<MeshNode> {
    const node = new MeshNode(opts, service);
    try {
      await node.run();
    } catch (err) {
      await node.stop();
      throw err;
    }
    return node;
  }

  private async run(): Promise<void> {
    const refusal = new Promise<never>((_, reject) => (this.refusedAtStart = reject));
    refusal.catch(() => undefined);
    const race = <T>(p: Promise<T>) => Promise.race([p, refusal]);
    const { id, nats } = this.opts;
    await race(this.launch(this.link.spec()));
    await race(this.link.firstAttempt);
    // Core NATS first: the probe is heard and answers while JetStream may still be starting.
    await this.launch(subscriptionChild('queries', this.ctx, subjects.query(id), (m) => this.answer(m)));
    const api = this.opts.api;
    if (api) await this.launch(subscriptionChild('api', this.ctx, subjects.api(id), (m) => void this.answerApi(m, api)));
    await this.launch(this.members.spec(this.ctx));
    await this.launch(loopChild('heartbeat', (signal) => this.beat(signal)));
    await race(this.launch(this.setup.spec()));
    if (this.link.current) await race(this.setup.firstAttempt);
    this.refusedAtStart = undefined;
    this.removeSink = this.service.addSink(this.sink);
    if (this.sender) await this.launch(this.sender.spec());
    if (this.merger) await this.launch(this.merger.spec(nats, this.setup));
    if (this.follower) await this.launch(this.follower.spec(nats, this.setup));
    if (this.coordination) await this.launch(new DeadMan(this.ctx, this.coordination, this.service).spec(this.heartbeatMs));
    if (this.opts.config) await this.launch(loopChild('config', (signal) => this.followConfig(signal)));
    // Let the children subscribe, and the server hear it, before the caller goes on.
    const nc = this.link.current;
    if (nc) {
      await flush();
      await nc.flush().catch(() => undefined);
    }
  }

  private async launch(spec: ChildSpec): Promise<void> {
    this.started.push(spec.id);
    const fault = this.opts.faultAt;
    await this.supervisor.start(
      fault
        ? {
            id: spec.id,
            start(crash) {
              const err = fault(spec.id);
              if (err) throw err;
              return spec.start(crash);
            },
          }
        : spec,
    );
  }

  /** A failure the node cannot fix by itself: logged, and told to `onFailure`. */
  private fail(err: ProbemeshError): void {
    this.ctx.log('error', err.message);
    this.opts.onFailure?.(err);
  }

  /** The listed indicators this coordinator reads from its merged windows (they are relayed up from there). */
  private relays(): Relays {
    const listed = new Set(this.opts.partials?.indicators);
    const relays = new Map<string, { from: string; stat: string }>();
    for (const i of this.service.list('indicators'))
      if (i.kind === 'atomic' && i.source.scheme === 'mesh' && listed.has(i.id)) relays.set(i.id, { from: String(i.source.indicator), stat: String(i.source.stat) });
    return relays;
  }

  private async beat(signal: AbortSignal): Promise<void> {
    const { clock } = this.ctx;
    for (;;) {
      const nc = await this.link.connection(signal);
      nc.publish(subjects.heartbeat(this.opts.id), enc(this.heartbeat()));
      await clock.sleep(this.heartbeatMs, signal);
    }
  }

  /** This probe's heartbeat now. */
  private heartbeat(): Heartbeat {
    const { id, role, parent, http } = this.opts;
    const h = this.service.health();
    return {
      probe: id,
      role,
      ...(parent ? { parent } : {}),
      level: this.members.level(parent),
      version: this.service.info().version,
      ...(http ? { http } : {}),
      ts: this.ctx.clock.now(),
      rules: h.rules,
      load: { rssMiB: Math.round(h.rssBytes / 2 ** 20), valuesPerS: h.valuesPerS, series: h.series },
      ...(this.sender ? { partials: this.sender.owed() } : {}),
    };
  }

  /** Answers a query on `pm.query.<id>`: the result, or the error as it happened here. */
  private answer(m: Msg): void {
    let reply: Reply;
    try {
      reply = { ok: true, result: this.service.query(check(Query, jsonOf(m), 'query')) };
    } catch (e) {
      const err = e as Error & { issues?: unknown };
      reply = { ok: false, error: { name: err.name ?? 'Error', message: messageOf(e), ...(err.issues !== undefined ? { issues: err.issues } : {}) } };
    }
    if (m.reply) m.respond(enc(reply));
  }

  private async followConfig(signal: AbortSignal): Promise<void> {
    const { apply, invalid } = this.opts.config!;
    const nc = await this.link.connection(signal);
    await followConfig(
      nc,
      this.opts.id,
      async (cfg, revision) => {
        if (revision <= this.configApplied) return; // seen before this child restarted
        this.configApplied = revision;
        await apply(cfg, revision);
      },
      invalid,
      this.opts.nats.jsDomain,
      signal,
    );
  }

  /** Alert transitions the probe's outbox still owes JetStream. */
  get pending(): number {
    return this.service.metrics().sinks.find((s) => s.name === this.sink.name)?.pending ?? 0;
  }

  /** Alert transitions JetStream acknowledged since start. */
  get published(): number {
    return this.sink.delivered;
  }

  /** Partial aggregates merged from children (not counting duplicates). */
  get merges(): number {
    return this.merger?.merges ?? 0;
  }

  /** Messages on the mesh's subjects dropped and never used: heartbeats and partials that are not what their subject says, partials whose figures or window cannot be. */
  get dropped(): { heartbeats: number; partials: number } {
    return { heartbeats: this.members.dropped, partials: this.merger?.dropped ?? 0 };
  }

  /** Alert transitions received from the mesh (not counting redeliveries). */
  get alertsReceived(): number {
    return this.follower?.received ?? 0;
  }

  /** The connection to NATS now, if there is one (for helpers such as flash). */
  get nc() {
    return this.link.current;
  }

  /** Where the node stands: its link to NATS and the state of each child. */
  health(): { link: LinkState; children: Record<string, ChildState | undefined> } {
    return { link: this.link.state, children: Object.fromEntries(this.started.map((id) => [id, this.supervisor.state(id)])) };
  }

  /** The probes heard from, with their level from the parent chains and those silent too long marked stale. */
  membership(): Member[] {
    return this.members.list();
  }

  /**
   * Alerts a coordinator has received, newest transition of each, firing first: by default those of
   * its subtree (itself, and probes whose parent chain, as heard in heartbeats, reaches it);
   * `scope: 'mesh'` for every probe's.
   */
  meshAlerts(filter: { state?: Alert['state']; scope?: 'subtree' | 'mesh' } = {}): Alert[] {
    const { id } = this.opts;
    return [...(this.follower?.book.values() ?? [])]
      .filter((a) => (!filter.state || a.state === filter.state) && (filter.scope === 'mesh' || a.probe === id || this.members.below(a.probe, id)))
      .sort((a, b) => (a.state === b.state ? b.ts - a.ts : a.state === 'firing' ? -1 : 1));
  }

  /** A coordinator's merged windows, newest first: per indicator and window, the sources in, those missing, complete or not. */
  windows(filter: { indicator?: string; limit?: number } = {}): MergedWindow[] {
    return this.opts.merged?.list(filter) ?? [];
  }

  /** Sends `payload` to another probe on `subject` and waits for its reply; why it could not be asked otherwise. */
  private async ask(probe: string, subject: string, payload: unknown, timeoutMs: number): Promise<Msg> {
    const nc = this.link.current;
    if (!nc) throw new MeshUnavailableError(`probe '${probe}' cannot be asked: this probe is not connected to NATS (${this.link.state.lastError ?? 'connecting'})`);
    try {
      return await nc.request(subject, enc(payload), { timeout: timeoutMs });
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      if (err instanceof natsErrors.TimeoutError || cause instanceof natsErrors.TimeoutError) throw new TimeoutError(`probe '${probe}' timed out after ${timeoutMs} ms`, { cause: err });
      if (err instanceof natsErrors.NoRespondersError || cause instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders()))
        throw new ProbeUnreachableError(probe, `no probe answers on the mesh as '${probe}' (gone or unknown id)`, { cause: err });
      throw new ProbeUnreachableError(probe, `probe '${probe}' could not be asked: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Forwards an API request to another probe over `pm.api.<probe>`: its API's answer, or why it could not be asked. */
  async request(probe: string, req: ForwardedRequest, timeoutMs = 5000): Promise<ForwardedAnswer> {
    const reply = jsonOf(await this.ask(probe, subjects.api(probe), req, timeoutMs));
    if (!fits(ForwardedAnswer, reply)) throw new ProbeUnreachableError(probe, `probe '${probe}' answered with something that is not an API answer`);
    return reply;
  }

  /** Runs an API request another probe forwarded here; anything that is not one is answered 400. */
  private async answerApi(m: Msg, api: (req: ForwardedRequest) => Promise<ForwardedAnswer>): Promise<void> {
    const req = jsonOf(m);
    const refuse = (status: number, message: string): ForwardedAnswer => ({ status, contentType: 'application/json', body: JSON.stringify({ error: { status, code: status === 400 ? 'invalid' : 'internal', message } }) });
    const answer = fits(ForwardedRequest, req) ? await api(req).catch((e: unknown) => refuse(500, messageOf(e))) : refuse(400, 'not a forwarded API request');
    if (m.reply) m.respond(enc(answer));
  }

  /** Asks another probe over `pm.query.<probe>`: its answer, its error as it happened there, or why it could not be asked. */
  async forward(probe: string, query: Query, timeoutMs = 5000): Promise<QueryResult> {
    const msg = await this.ask(probe, subjects.query(probe), query, timeoutMs);
    const reply = jsonOf(msg);
    if (!fits(Reply, reply)) throw new ProbeUnreachableError(probe, `probe '${probe}' answered with something that is not a query answer`);
    if (reply.ok) return check(QueryResult, reply.result, `answer of probe ${probe}`);
    throw reviveError(reply.error);
  }

  /** Lets owed alerts go out (waiting up to `stopGraceMs`; what is left stays owed in the store), then stops every child, the connection last. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { clock } = this.ctx;
      const until = clock.now() + (this.opts.stopGraceMs ?? 2000);
      while (this.removeSink && this.link.current && this.pending > 0 && clock.now() < until) await clock.sleep(50);
      await this.removeSink?.();
      for (const id of [...this.started].reverse()) await this.supervisor.stop(id);
    })();
    return this.stopping;
  }
}
