import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { backoffDelay, messageOf } from '@probemesh/core';
import { Alert, Heartbeat, PartialAggregate, Query, QueryResult, check, fits, streams, subjects, type NatsOptions, type Role } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';
import type { Store } from '@probemesh/store';
import type { MergedWindows } from './merged.js';
import { natsConnect } from './connect.js';

/** How a probe joins the mesh. */
export interface MeshOptions {
  id: string;
  role: Role;
  parent?: string;
  level?: number;
  version?: string;
  /** URL of this probe's HTTP API, announced in heartbeats. */
  http?: string;
  nats: NatsOptions;
  heartbeatMs?: number;
  /** Limits of PM_ALERTS and PM_PARTIALS: set when this probe joins (created with 7 days, no size limit, when missing). */
  streams?: { maxAgeMs?: number; maxBytes?: number };
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The probe's store: where partials are computed from and cursors kept. */
  store?: Store;
  /** Send these indicators' windows to the parent as partial aggregates. */
  partials?: { indicators: string[]; windowMs: number; group?: string; graceMs?: number };
  /** Merge children's partials here (a coordinator); `children` limits whose (default: all). */
  merged?: MergedWindows;
  children?: string[];
}

/** A probe another probe heard from. */
export interface Member extends Heartbeat {
  lastSeen: number;
  stale: boolean;
}

/** A query answer or a structured error, as it travels on `pm.query.<probe>`. */
type Reply = { ok: true; result: QueryResult } | { ok: false; error: { name: string; message: string } };

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
/** A message's JSON payload, or undefined when it is not JSON. */
const jsonOf = (m: { json(): unknown }): unknown => {
  try {
    return m.json();
  } catch {
    return undefined;
  }
};
const OUTBOX = 'mesh-outbox';
const MESH_ALERTS = 'mesh-alerts';

/**
 * A probe's presence on NATS: it publishes its alerts to `pm.alert.<severity>.<probe>.<rule>`
 * through JetStream (deduplicated by message id, queued while NATS is away), sends heartbeats,
 * keeps the membership table from others' heartbeats, answers `pm.query.<probe>`, and forwards
 * queries to other probes.
 */
export class MeshNode {
  private readonly members = new Map<string, Member>();
  private readonly outbox: Array<{ subject: string; msgID: string; data: Uint8Array; acked?: () => Promise<void> }> = [];
  private consumer?: ConsumerMessages;
  private seq = 0;
  private partialTimer?: NodeJS.Timeout;
  /** Partial aggregates merged from children (not counting duplicates). */
  merges = 0;
  /** Alert transitions received from other probes (not counting redeliveries). */
  alertsReceived = 0;
  /** Other probes' alerts, newest transition per alert id (a coordinator's view of its mesh). */
  private readonly meshAlertBook = new Map<string, Alert>();
  private readonly alertListeners = new Set<(a: Alert) => void>();
  private alertConsumer?: ConsumerMessages;
  private readonly subs: Subscription[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private draining?: Promise<void>;
  private attempts = 0;
  private stopped = false;
  private offAlert?: () => void;
  private readonly js: JetStreamClient;
  /** JetStream options: the hub's domain for probes on a leaf node. */
  readonly jsOpts: { domain?: string };
  /** Alerts published and acknowledged by JetStream. */
  published = 0;

  private constructor(
    private readonly opts: MeshOptions,
    private readonly service: ProbeService,
    readonly nc: NatsConnection,
  ) {
    this.jsOpts = opts.nats.jsDomain ? { domain: opts.nats.jsDomain } : {};
    this.js = jetstream(nc, this.jsOpts);
  }

  /** Connects (retrying forever in the background once connected), ensures the streams, starts serving. */
  static async start(opts: MeshOptions, service: ProbeService): Promise<MeshNode> {
    const nc = await natsConnect(opts.nats, { name: `probemesh-${opts.id}`, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    const node = new MeshNode(opts, service, nc);
    node.restoreOutbox();
    await node.ensureStreams();
    node.serve();
    if (opts.partials && opts.store) node.sendPartials();
    if (opts.merged) {
      await node.coordinate();
      await node.watchAlerts();
    }
    return node;
  }

  private async ensureStreams(): Promise<void> {
    const jsm = await jetstreamManager(this.nc, this.jsOpts);
    const limits = { max_age: (this.opts.streams?.maxAgeMs ?? 7 * 86_400_000) * 1e6, max_bytes: this.opts.streams?.maxBytes ?? -1 };
    for (const [name, subject] of [
      [streams.alerts, subjects.alerts],
      [streams.partials, 'pm.partial.>'],
    ] as const) {
      let config;
      try {
        config = (await jsm.streams.info(name)).config;
      } catch {
        await jsm.streams.add({ name, subjects: [subject], duplicate_window: 120e9, ...limits });
        continue;
      }
      // Only a probe configured with limits changes existing streams (others leave them as they are).
      if (this.opts.streams && (config.max_age !== limits.max_age || config.max_bytes !== limits.max_bytes)) {
        await jsm.streams.update(name, { ...config, ...limits });
        this.opts.log?.('info', `stream ${name}: limits set to max age ${limits.max_age / 1e9} s, max bytes ${limits.max_bytes}`);
      }
    }
  }

  private serve(): void {
    const { id } = this.opts;
    this.offAlert = this.service.onAlert((a) => this.enqueueAlert(a));
    this.subs.push(
      this.nc.subscribe(subjects.query(id), {
        callback: (err, msg) => {
          if (err) return;
          let reply: Reply;
          try {
            reply = { ok: true, result: this.service.query(check(Query, msg.json(), 'query')) };
          } catch (e) {
            reply = { ok: false, error: { name: (e as Error).name ?? 'Error', message: messageOf(e) } };
          }
          msg.respond(enc(reply));
        },
      }),
      this.nc.subscribe(subjects.heartbeats, {
        callback: (err, msg) => {
          if (err) return;
          const hb = jsonOf(msg);
          if (!fits(Heartbeat, hb)) return; // not a heartbeat: dropped
          this.members.set(hb.probe, { ...hb, lastSeen: Date.now(), stale: false });
        },
      }),
    );
    const every = this.opts.heartbeatMs ?? 5000;
    this.beat();
    const t = setInterval(() => this.beat(), every);
    t.unref();
    this.timers.push(t);
  }

  private beat(): void {
    if (this.stopped || this.nc.isClosed()) return;
    const m = this.service.metrics();
    const hb: Heartbeat = {
      probe: this.opts.id,
      role: this.opts.role,
      ...(this.opts.parent ? { parent: this.opts.parent } : {}),
      level: this.opts.level ?? 0,
      version: this.opts.version ?? '0.1.0',
      ...(this.opts.http ? { http: this.opts.http } : {}),
      ts: Date.now(),
      rules: m.rules,
      load: { rssMiB: Math.round(m.rssBytes / 2 ** 20), valuesPerS: 0, series: m.series },
    };
    this.nc.publish(subjects.heartbeat(this.opts.id), enc(hb));
  }

  /** Queues an alert transition; the id makes a redelivery after a lost ack a duplicate JetStream drops. */
  private enqueueAlert(a: Alert): void {
    const item: (typeof this.outbox)[number] = { subject: subjects.alert(a.severity, a.probe, a.rule), msgID: `${a.id}.${a.state}.${a.ts}`, data: enc(a) };
    const store = this.opts.store;
    if (store) {
      // Kept in the store until JetStream acknowledges it, so a restart delivers what is owed.
      const key = `${String(Date.now()).padStart(15, '0')}-${String(this.seq++).padStart(9, '0')}`;
      const saved = store.config.put(OUTBOX, key, { subject: item.subject, msgID: item.msgID, alert: a });
      item.acked = async () => {
        await saved;
        await store.config.delete(OUTBOX, key);
      };
    }
    this.outbox.push(item);
    this.drain();
  }

  /** Alerts a previous run owed (saved, never acknowledged) go out first, in their order. */
  private restoreOutbox(): void {
    const store = this.opts.store;
    if (!store) return;
    const saved = store.config.entries<{ subject: string; msgID: string; alert: Alert }>(OUTBOX);
    for (const [key, e] of saved) this.outbox.push({ subject: e.subject, msgID: e.msgID, data: enc(e.alert), acked: () => store.config.delete(OUTBOX, key).then(() => undefined) });
    if (saved.length) this.drain();
  }

  /** Publishes the outbox in order; on failure retries later with back-off, keeping order. */
  private drain(): void {
    if (this.draining || this.stopped) return;
    this.draining = (async () => {
      while (this.outbox.length && !this.stopped) {
        const item = this.outbox[0]!;
        try {
          await this.js.publish(item.subject, item.data, { msgID: item.msgID, timeout: 5000 });
          this.outbox.shift();
          await item.acked?.();
          this.published++;
          this.attempts = 0;
        } catch (err) {
          const wait = backoffDelay(this.attempts++, { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.2 });
          this.opts.log?.('warn', `alert not delivered yet (${messageOf(err)}); ${this.outbox.length} queued, retrying in ${wait} ms`);
          await new Promise((r) => setTimeout(r, wait).unref());
        }
      }
    })().finally(() => {
      this.draining = undefined;
      if (this.outbox.length && !this.stopped) this.drain();
    });
  }

  /**
   * Every closed window, the partial aggregate of each listed indicator goes to
   * `pm.partial.<probe>.<indicator>`; a cursor in the store (moved on JetStream's ack) lets a
   * restarted probe send the windows it still owes, and the message id keeps a resend single.
   */
  private sendPartials(): void {
    const { partials, store, id } = this.opts;
    if (!partials || !store) return;
    const W = partials.windowMs;
    const grace = partials.graceMs ?? Math.min(2000, W / 2);
    const group = partials.group ?? '';
    const tick = () => {
      if (this.stopped) return;
      const lastClosed = Math.floor((Date.now() - grace) / W) * W - W;
      const cursor = store.config.get<number>('mesh', 'partials-cursor');
      const first = Math.max(cursor === undefined ? lastClosed : cursor + W, lastClosed - 100 * W);
      for (let start = first; start <= lastClosed; start += W) {
        const end = start + W;
        for (const indicator of partials.indicators) {
          const agg = store.window({ indicator }, start, end);
          if (agg.count === 0) continue;
          const devices = store.series({ indicator }).filter((s) => store.window(s, start, end).count > 0).map((s) => s.device ?? '');
          const p: PartialAggregate = { probe: id, indicator, group, windowStart: start, windowEnd: end, count: agg.count, sum: agg.sum, min: agg.min, max: agg.max, devices: new Set(devices).size };
          this.outbox.push({ subject: subjects.partial(id, indicator), msgID: `${id}.${indicator}.${group}.${start}`, data: enc(p) });
        }
        // The cursor moves when everything queued so far is acknowledged, in outbox order.
        const moveCursor = () => store.config.put('mesh', 'partials-cursor', start);
        const tail = this.outbox[this.outbox.length - 1];
        if (tail) {
          const before = tail.acked;
          tail.acked = async () => {
            await before?.();
            await moveCursor();
          };
        } else void moveCursor();
      }
      this.drain();
      const next = Math.floor(Date.now() / W) * W + W + grace - Date.now();
      this.partialTimer = setTimeout(tick, Math.max(10, next));
      this.partialTimer.unref();
    };
    tick();
  }

  /** A durable JetStream consumer of children's partials, merged once each, acked after the merge is saved. */
  private async coordinate(): Promise<void> {
    const merged = this.opts.merged!;
    const durable = `coord-${this.opts.id}`;
    const jsm = await jetstreamManager(this.nc, this.jsOpts);
    try {
      await jsm.consumers.info(streams.partials, durable);
    } catch {
      await jsm.consumers.add(streams.partials, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: 'pm.partial.>', ack_wait: 30e9 });
    }
    const consumer = await this.js.consumers.get(streams.partials, durable);
    this.consumer = await consumer.consume({ max_messages: 1024 });
    const children = this.opts.children ? new Set(this.opts.children) : undefined;
    // Messages that arrive together are merged together: one store commit, then their acks.
    let batch: JsMsg[] = [];
    let flushing: Promise<void> = Promise.resolve();
    const flush = () => {
      const msgs = batch;
      batch = [];
      flushing = flushing.then(async () => {
        const ps = msgs.map((m) => this.partialOf(m)).filter((p): p is PartialAggregate => p !== undefined && p.probe !== this.opts.id && (!children || children.has(p.probe)));
        try {
          this.merges += await merged.mergeAll(ps);
          for (const m of msgs) m.ack();
        } catch (err) {
          this.opts.log?.('warn', `${msgs.length} partials not merged, redelivered later: ${messageOf(err)}`);
          for (const m of msgs) m.nak(1000);
        }
      });
    };
    void (async () => {
      for await (const m of this.consumer!) {
        if (batch.push(m) === 1) setImmediate(flush);
        if (batch.length >= 512) await flushing;
      }
    })();
  }

  /**
   * A coordinator follows every other probe's alerts through its own durable consumer, from the
   * start of the stream (so what fired before it joined shows as firing): each transition is taken
   * once (a redelivery matching the saved transition is ignored), kept in the store, and listed by
   * `meshAlerts()`.
   */
  private async watchAlerts(): Promise<void> {
    const store = this.opts.store;
    for (const [key, a] of store?.config.entries<Alert>(MESH_ALERTS) ?? []) this.meshAlertBook.set(key, a);
    const durable = `coord-${this.opts.id}-alerts`;
    const jsm = await jetstreamManager(this.nc, this.jsOpts);
    try {
      await jsm.consumers.info(streams.alerts, durable);
    } catch {
      await jsm.consumers.add(streams.alerts, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: subjects.alerts, ack_wait: 30e9 });
    }
    this.alertConsumer = await (await this.js.consumers.get(streams.alerts, durable)).consume({ max_messages: 256 });
    void (async () => {
      for await (const m of this.alertConsumer!) {
        const a = jsonOf(m);
        if (!fits(Alert, a) || a.probe === this.opts.id) {
          m.ack();
          continue;
        }
        const key = `${a.probe}/${a.id}`;
        const had = this.meshAlertBook.get(key);
        if (had && had.ts >= a.ts && (had.ts > a.ts || had.state === a.state)) {
          m.ack(); // seen already (a redelivery) or older than what we hold
          continue;
        }
        try {
          await store?.config.put(MESH_ALERTS, key, a);
          this.meshAlertBook.set(key, a);
          await this.pruneMeshAlerts();
          this.alertsReceived++;
          m.ack();
          for (const fn of this.alertListeners) fn(a);
        } catch (err) {
          this.opts.log?.('warn', `alert on ${m.subject} not kept, redelivered later: ${messageOf(err)}`);
          m.nak(1000);
        }
      }
    })();
  }

  /** Keeps the book bounded: beyond 5000 entries the oldest resolved ones go. */
  private async pruneMeshAlerts(): Promise<void> {
    const excess = this.meshAlertBook.size - 5000;
    if (excess <= 0) return;
    const old = [...this.meshAlertBook].filter(([, a]) => a.state === 'resolved').sort(([, a], [, b]) => a.ts - b.ts).slice(0, excess);
    for (const [key] of old) this.meshAlertBook.delete(key);
    await Promise.all(old.map(([key]) => this.opts.store?.config.delete(MESH_ALERTS, key)));
  }

  /**
   * Other probes' alerts a coordinator has received, newest transition of each, firing first:
   * by default those of its subtree (probes whose parent chain, as heard in heartbeats, reaches
   * it); `scope: 'mesh'` for every probe's.
   */
  meshAlerts(filter: { state?: Alert['state']; scope?: 'subtree' | 'mesh' } = {}): Alert[] {
    return [...this.meshAlertBook.values()]
      .filter((a) => (!filter.state || a.state === filter.state) && (filter.scope === 'mesh' || this.below(a.probe)))
      .sort((a, b) => (a.state === b.state ? b.ts - a.ts : a.state === 'firing' ? -1 : 1));
  }

  /** Whether `probe`'s parent chain reaches this probe. */
  private below(probe: string): boolean {
    const seen = new Set<string>();
    for (let p = this.members.get(probe)?.parent; p !== undefined && !seen.has(p); p = this.members.get(p)?.parent) {
      if (p === this.opts.id) return true;
      seen.add(p);
    }
    return false;
  }

  /** Called once per alert transition a coordinator receives from another probe. */
  onMeshAlert(fn: (a: Alert) => void): () => void {
    this.alertListeners.add(fn);
    return () => this.alertListeners.delete(fn);
  }

  /** A partial aggregate from a message, or undefined (logged) when it is not one: acked and dropped. */
  private partialOf(m: JsMsg): PartialAggregate | undefined {
    const p = jsonOf(m);
    if (fits(PartialAggregate, p)) return p;
    this.opts.log?.('warn', `dropped a message on ${m.subject} that is not a partial aggregate`);
    return undefined;
  }

  /** Alert transitions not yet acknowledged by JetStream. */
  get pending(): number {
    return this.outbox.length;
  }

  /** The probes heard from, with those silent for three heartbeats marked stale. */
  membership(): Member[] {
    const staleAfter = 3 * (this.opts.heartbeatMs ?? 5000);
    const now = Date.now();
    return [...this.members.values()].map((m) => ({ ...m, stale: now - m.lastSeen > staleAfter })).sort((a, b) => a.probe.localeCompare(b.probe));
  }

  /** Asks another probe over `pm.query.<probe>`; a clear error when it is gone or slow. */
  async forward(probe: string, query: Query, timeoutMs = 5000): Promise<QueryResult> {
    let msg;
    try {
      msg = await this.nc.request(subjects.query(probe), enc(query), { timeout: timeoutMs });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      const why = /no responders/i.test(`${e.message} ${e.cause?.message ?? ''} ${e.cause?.name ?? ''}`) ? 'no probe answers on the mesh (gone or unknown id)' : /timeout/i.test(`${e.message} ${e.name}`) ? `timed out after ${timeoutMs} ms` : messageOf(err);
      throw new Error(why, { cause: err });
    }
    const reply = msg.json() as Reply;
    if (reply.ok) return check(QueryResult, reply.result, `answer of probe ${probe}`);
    const e = new Error(reply.error.message);
    e.name = reply.error.name;
    throw e;
  }

  /** Publishes what is queued (bounded wait), then leaves the mesh. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const until = Date.now() + 2000;
    while (this.outbox.length && Date.now() < until && !this.nc.isClosed()) await new Promise((r) => setTimeout(r, 50));
    this.stopped = true;
    this.offAlert?.();
    await this.consumer?.close();
    await this.alertConsumer?.close();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.partialTimer);
    for (const s of this.subs) s.unsubscribe();
    await this.nc.drain().catch(() => this.nc.close());
  }
}
