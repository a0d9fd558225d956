import type { Datum, Device, Static, TSchema } from '@probemesh/model';
import type { Clock } from './clock.js';

/** One reading of an indicator: a datum, optionally for a row of a table, optionally timestamped by the source. */
export interface Sample {
  datum: Datum;
  instance?: string;
  ts?: number;
  /** The reading lacks part of what it stands for (a merged window computed without a child): stored with the value's `incomplete` mark. */
  incomplete?: true;
}

/** Why a reading failed. `unreachable` and `timeout` are data about the device, not bugs. */
export const FailureKind = {
  unreachable: 'unreachable',
  timeout: 'timeout',
  refused: 'refused',
  badResponse: 'bad-response',
  notFound: 'not-found',
  config: 'config',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

/** The outcome of one read request: samples, or a failure that says what is wrong. */
export type Reading = { ok: true; samples: Sample[] } | { ok: false; kind: FailureKind; error: string; retryable: boolean };

/** One (indicator × device) a rule wants read this tick. */
export interface ReadRequest<P = unknown, D = unknown> {
  indicator: string;
  /** The device, absent for device-less schemes (a local capture, a listener). */
  device?: Device;
  /** The indicator's source parameters, already checked against the connector's `params` schema. */
  params: P;
  /** The device's settings for this scheme (`device.protocols[scheme]`), checked against `deviceParams`. */
  deviceParams?: D;
  /** The rule asking: a connector that hands each new reading out once (merged mesh windows) keeps a cursor per rule. */
  rule?: string;
}

/** What a connector is given when the probe starts it. */
export interface ConnectorContext {
  clock: Clock;
  /** Where the connector may keep files (MIB caches …). */
  dataDir: string;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

/** A running connector: reads batches; continuous ones (capture, listeners) keep state between reads. */
export interface ConnectorSession<P = unknown, D = unknown> {
  /**
   * Reads a batch; returns one Reading per request, in order. Must not throw for a device-level
   * problem (return `{ ok: false }`); must honour `signal` (the tick's timeout).
   */
  read(requests: ReadonlyArray<ReadRequest<P, D>>, signal: AbortSignal): Promise<Reading[]>;
  /**
   * Told every request the probe's rules make of this scheme (the union over rules), when a rule
   * starts, changes or stops, so continuous connectors open what is wanted before any tick and
   * close what nothing reads.
   */
  sync?(requests: ReadonlyArray<ReadRequest<P, D>>): Promise<void>;
  /** Self-metrics (drops, packets, rejects …) shown by the probe's /metrics: gauges, but for those the connector names in `counters`. */
  stats?(): Record<string, number>;
  stop(): Promise<void>;
}

/** A connector plugin, registered by scheme. Adding one never touches the core. */
export interface Connector<PS extends TSchema = TSchema, DS extends TSchema = TSchema> {
  readonly scheme: string;
  /** One line for docs and the API. */
  readonly summary: string;
  /** Schema of `indicator.source` (without `scheme`). */
  readonly params: PS;
  /** Schema of `device.protocols[scheme]`; absent when the scheme needs no device settings. */
  readonly deviceParams?: DS;
  /** Whether each request names a device (snmp, http) or reads something local (pcap, syslog). */
  readonly perDevice: boolean;
  /**
   * The names of its sessions' `stats()` that only grow (packets, drops, rejects; back to 0 only when
   * the session restarts): /metrics shows them as `_total` counters, the other stats as gauges.
   */
  readonly counters?: readonly string[];
  /** What is wrong with schema-checked `params` that the schema cannot say (a pattern the engine cannot run); checked when an indicator is saved. */
  check?(params: Static<PS>): string | undefined;
  start(ctx: ConnectorContext): ConnectorSession<Static<PS>, Static<DS>> | Promise<ConnectorSession<Static<PS>, Static<DS>>>;
}

/** Helper for connector authors: a failed Reading. */
export function failure(kind: FailureKind, error: string, retryable = kind === 'timeout' || kind === 'unreachable'): Reading {
  return { ok: false, kind, error, retryable };
}

/** Helper for connector authors: a Reading of one sample. */
export function reading(datum: Datum, instance?: string): Reading {
  return { ok: true, samples: [instance === undefined ? { datum } : { datum, instance }] };
}

/** Identity helper that keeps a connector's parameter types precise. */
export function defineConnector<PS extends TSchema, DS extends TSchema = TSchema>(c: Connector<PS, DS>): Connector<PS, DS> {
  return c;
}
