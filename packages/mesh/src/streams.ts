import { errors as natsErrors, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstreamManager, type ConsumerConfig, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { jserrors } from '@nats-io/jetstream/internal'; // JetStreamNotEnabled is not in the public entry
import { backoffDelay, messageOf, type BackoffPolicy, type ChildSpec } from '@probemesh/core';
import { streams, subjects } from '@probemesh/model';
import { loopChild, Waiters } from './child.js';
import type { MeshContext } from './context.js';
import { MeshConfigError, MeshUnavailableError } from './errors.js';
import { credentialsOf } from './connect.js';
import type { NatsOptions } from '@probemesh/model';

/** Stream limits and replicas a probe sets; what it leaves out, it leaves as the stream has it. */
export interface StreamSettings {
  maxAgeMs?: number;
  maxBytes?: number;
  /** Copies of each stream in a NATS cluster (1–5); by default 3 on a cluster of three or more servers, else 1. */
  replicas?: number;
}

const DAY_NS = 86_400e9;
/** A resend after a lost acknowledgement within this window is dropped by the stream. */
const DUPLICATE_WINDOW_NS = 120e9;
/** JetStream API error codes (nats-server's errors.json) that a set-up step handles. */
const code = { nameInUse: 10058, subjectsOverlap: 10065, notEnabledForAccount: 10039, streamNotFound: 10059 } as const;
const retry: BackoffPolicy = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.3 };
const retryRefused: BackoffPolicy = { initialMs: 15_000, maxMs: 60_000, factor: 2, jitter: 0.3 };

/** The streams the mesh needs, as this probe would create them. */
export function wantedStreams(settings: StreamSettings, clusterSize: number): StreamConfig[] {
  const replicas = settings.replicas ?? (clusterSize >= 3 ? 3 : 1);
  const common = { retention: 'limits', storage: 'file', discard: 'old', duplicate_window: DUPLICATE_WINDOW_NS, max_age: (settings.maxAgeMs ?? 7 * 86_400_000) * 1e6, max_bytes: settings.maxBytes ?? -1, num_replicas: replicas } as const;
  return [
    // Probes publish on the ingest subjects; the stream stores each transition once and only then
    // republishes it on pm.alert.…, so a plain subscriber never sees a resend.
    { ...common, name: streams.alerts, subjects: [subjects.alertsIn], republish: { src: subjects.alertsIn, dest: subjects.alerts } },
    { ...common, name: streams.partials, subjects: [subjects.partials] },
  ] as StreamConfig[];
}

/** The servers of the cluster a connection is on, as its INFO announces them (1 for a lone server). */
export function clusterSize(info: { cluster?: string; connect_urls?: string[] } | undefined, seeds: number): number {
  return Math.max(seeds, info?.cluster ? (info.connect_urls?.length ?? 1) : 1);
}

/**
 * What a JetStream API failure means: a setting to fix (`MeshConfigError`, naming the server, the
 * user and what to change) or JetStream not available now (`MeshUnavailableError`: retried).
 */
export function classifyApiError(err: unknown, what: string, nats: NatsOptions, server?: string): MeshConfigError | MeshUnavailableError {
  if (err instanceof MeshConfigError || err instanceof MeshUnavailableError) return err;
  const at = `NATS at ${server ?? nats.servers.join(', ')}`;
  const who = credentialsOf(nats);
  if (err instanceof natsErrors.PermissionViolationError)
    return new MeshConfigError(`${at} does not allow ${who} to ${err.operation} on ${err.subject} (${what}): give the probe's user the permissions natsAuthorization() of @probemesh/mesh lists`, { cause: err });
  if (err instanceof jserrors.JetStreamNotEnabled || (err instanceof JetStreamApiError && err.code === code.notEnabledForAccount))
    return new MeshConfigError(`${at} has no JetStream for ${who} (${what}): enable jetstream in the server's config (or set nats.jsDomain for a probe on a leaf node)`, { cause: err });
  return new MeshUnavailableError(`${at}: JetStream is not available yet (${what}: ${messageOf(err)})`, { cause: err });
}

const sorted = (xs: readonly string[] | undefined) => JSON.stringify([...(xs ?? [])].sort());
const sameRepublish = (a?: { src?: string; dest: string }, b?: { src?: string; dest: string }) => a?.src === b?.src && a?.dest === b?.dest;

/**
 * Creates a stream, or accepts it as it is. Idempotent under concurrency: it adds with the wanted
 * configuration (the server answers success when the same stream exists) and reads the stream only
 * when the server says it differs; limits and replicas are changed only when this probe sets them.
 */
export async function ensureStream(jsm: JetStreamManager, wanted: StreamConfig, settings: StreamSettings, log: MeshContext['log'], where: string): Promise<void> {
  try {
    await jsm.streams.add(wanted);
    return;
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
    if (err.code === code.subjectsOverlap) {
      const other = await jsm.streams.find(wanted.subjects[0]!).catch(() => undefined);
      if (other === wanted.name) return ensureStream(jsm, wanted, settings, log, where); // created meanwhile by another probe
      throw new MeshConfigError(
        `${where}: stream ${other ?? '(another stream)'} already captures ${wanted.subjects.join(', ')}, which the mesh's stream ${wanted.name} needs: remove that stream or its subjects (nats stream rm ${other ?? '<name>'})`,
        { cause: err },
      );
    }
    if (err.code !== code.nameInUse) throw err;
  }
  const have = (await jsm.streams.info(wanted.name)).config;
  if (sorted(have.subjects) !== sorted(wanted.subjects) || !sameRepublish(have.republish, wanted.republish) || have.retention !== wanted.retention) {
    // A stream's republish cannot be changed in place (nats-server refuses it): it must be made again.
    const earlier = wanted.name === streams.alerts && sorted(have.subjects) === sorted([subjects.alerts]) ? ' (as an earlier probemesh made it: its alerts are already at the coordinators)' : '';
    throw new MeshConfigError(
      `${where}: stream ${wanted.name} exists with subjects ${JSON.stringify(have.subjects)}${have.republish ? ` republished to ${have.republish.dest}` : ''} and ${have.retention} retention${earlier}; the mesh needs ${JSON.stringify(wanted.subjects)}${wanted.republish ? ` republished to ${wanted.republish.dest}` : ''} with limits retention: delete it (nats stream rm ${wanted.name}) and the probes make it again`,
    );
  }
  // Only a probe configured with limits or replicas changes them (others leave them as they are).
  const change: Partial<StreamConfig> = {};
  if (settings.maxAgeMs !== undefined && have.max_age !== wanted.max_age) change.max_age = wanted.max_age;
  if (settings.maxBytes !== undefined && have.max_bytes !== wanted.max_bytes) change.max_bytes = wanted.max_bytes;
  if (settings.replicas !== undefined && have.num_replicas !== wanted.num_replicas) change.num_replicas = wanted.num_replicas;
  if (Object.keys(change).length === 0) return;
  await jsm.streams.update(wanted.name, { ...have, ...change });
  const said = [
    change.max_age !== undefined ? `max age ${change.max_age / 1e9} s` : '',
    change.max_bytes !== undefined ? `max bytes ${change.max_bytes}` : '',
    change.num_replicas !== undefined ? `${change.num_replicas} replicas` : '',
  ];
  log('info', `stream ${wanted.name}: ${said.filter(Boolean).join(', ')}`);
}

/** Creates a durable consumer, or leaves it as it is (the server answers success for the same configuration). */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, config: Partial<ConsumerConfig> & { durable_name: string }): Promise<void> {
  await jsm.consumers.add(stream, config);
}

/**
 * Runs a JetStream step until it succeeds, on the current connection: retried with jittered
 * back-off (cut short by a reconnect) while JetStream is unavailable (logged at the first and every
 * tenth attempt); a refused configuration is retried slowly, in case someone fixes it, and reported
 * to `failed` (logged as an error without one). `failed` hears every failure.
 */
export async function untilDone<T>(ctx: MeshContext, nats: NatsOptions, what: string, step: (nc: NatsConnection) => Promise<T>, signal: AbortSignal, failed?: (err: MeshConfigError | MeshUnavailableError) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const nc = await ctx.link.connection(signal);
    try {
      return await step(nc);
    } catch (err) {
      if (signal.aborted) throw err;
      const e = classifyApiError(err, what, nats, nc.getServer());
      if (e instanceof MeshConfigError) (failed ?? ((x: MeshConfigError) => ctx.log('error', x.message)))(e);
      else {
        failed?.(e);
        if (attempt === 0 || attempt % 10 === 9) ctx.log('warn', `${e.message}; retrying`);
      }
      await pause(ctx, backoffDelay(attempt, e instanceof MeshConfigError ? retryRefused : retry), signal);
    }
  }
}

/** Waits `ms`, or less when the connection comes back meanwhile (what was owed goes out at once then). */
async function pause(ctx: MeshContext, ms: number, signal: AbortSignal): Promise<void> {
  const done = new AbortController();
  const either = AbortSignal.any([signal, done.signal]);
  try {
    await Promise.race([ctx.clock.sleep(ms, either), ctx.link.reconnected(either)]);
  } finally {
    done.abort();
  }
}

/**
 * The child that sets up the mesh's streams once connected, and again after every reconnect (a
 * server that came back empty gets them again), through `untilDone`. Others wait for it with
 * `ready()`; `firstAttempt` settles after the first try (rejected only by a refused configuration).
 */
export class StreamSetup {
  private readyNow = false;
  private readonly waiters = new Waiters();
  private first?: { resolve(): void; reject(err: unknown): void };
  readonly firstAttempt: Promise<void>;

  constructor(
    private readonly ctx: MeshContext,
    private readonly nats: NatsOptions,
    private readonly settings: StreamSettings,
    private readonly refused: (err: MeshConfigError) => void,
  ) {
    this.firstAttempt = new Promise((resolve, reject) => (this.first = { resolve, reject }));
    this.firstAttempt.catch(() => undefined); // also reported through `refused`
  }

  /** Resolves once the streams exist (waits while they cannot be set up); rejects when `signal` aborts. */
  ready(signal: AbortSignal): Promise<void> {
    return this.readyNow ? Promise.resolve() : this.waiters.wait(signal);
  }

  spec(): ChildSpec {
    return loopChild('streams', async (signal) => {
      // After the first try the probe goes on, whatever came of it: the streams come when JetStream does.
      const failed = (e: MeshConfigError | MeshUnavailableError) => {
        if (e instanceof MeshConfigError) {
          this.first?.reject(e);
          this.refused(e);
        } else this.first?.resolve();
      };
      for (;;) {
        await untilDone(
          this.ctx,
          this.nats,
          'setting up the mesh streams',
          async (nc) => {
            const jsm = await jetstreamManager(nc, { ...this.ctx.js, timeout: 5000 });
            for (const s of wantedStreams(this.settings, clusterSize(nc.info, this.nats.servers.length))) await ensureStream(jsm, s, this.settings, this.ctx.log, `NATS at ${nc.getServer()}`);
          },
          signal,
          failed,
        );
        this.first?.resolve();
        this.readyNow = true;
        this.waiters.wake();
        await this.ctx.link.reconnected(signal);
      }
    });
  }
}
