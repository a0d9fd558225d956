import type { AlertSink, Connector, ConnectorSession, ReadRequest } from '@probemesh/core';
import { ProbemeshError, messageOf, systemClock, transitionId } from '@probemesh/core';
import { fits, type Alert } from '@probemesh/model';
import type { Test } from 'tap';
import { tempDir } from './ports.js';

/** What a connector's conformance run needs: requests that succeed and one whose device never answers. */
export interface ConformanceCase {
  /** Requests expected to read successfully (at least one). */
  good: () => ReadRequest[] | Promise<ReadRequest[]>;
  /** A request whose target never answers (a silent loopback port, an empty namespace address); omit for device-less schemes. */
  silent?: () => ReadRequest | Promise<ReadRequest>;
  /** Source parameters the connector must reject. */
  badParams: unknown[];
  /** Called before reads, e.g. to send traffic for continuous connectors. */
  stimulate?: (session: ConnectorSession) => Promise<void>;
}

/**
 * The shared conformance suite every connector runs (one suite per extension point):
 * schemas exist and reject bad input, reads return one Reading per request in order, a silent
 * device is a failed Reading (never a throw) and honours the abort signal, its stats have metric
 * names and include the counters it declares, stop is idempotent.
 */
export async function connectorConformance(t: Test, connector: Connector, c: ConformanceCase): Promise<void> {
  t.match(connector.scheme, /^[a-z][a-z0-9-]{0,31}$/, 'scheme is a valid scheme name');
  t.ok(connector.summary.length > 0, 'has a summary');
  for (const bad of c.badParams) t.notOk(fits(connector.params, bad), `rejects params ${JSON.stringify(bad)}`);
  const logs: string[] = [];
  // A data dir of its own, removed after the run: nothing a connector keeps there outlives its test.
  const dataDir = await tempDir('probemesh-conformance-');
  t.teardown(dataDir.remove);
  const session = await connector.start({ clock: systemClock, dataDir: dataDir.path, log: (level, m) => logs.push(`${level} ${m}`) });
  try {
    const good = await c.good();
    for (const r of good) t.ok(fits(connector.params, r.params), `accepts params ${JSON.stringify(r.params)}`);
    await session.sync?.(good);
    if (c.stimulate) await c.stimulate(session);
    const readings = await session.read(good, AbortSignal.timeout(10_000));
    t.equal(readings.length, good.length, 'one reading per request');
    readings.forEach((r, i) => t.ok(r.ok, `request ${i} (${good[i]!.indicator}) reads: ${r.ok ? 'ok' : r.error}`));
    const stats = session.stats?.() ?? {};
    // Stat names become Prometheus metric names as they are; the counters named must be stats it reports.
    for (const k of Object.keys(stats)) t.match(k, /^[a-z][a-z0-9_]*$/, `stat ${k} is a metric name`);
    t.same((connector.counters ?? []).filter((k) => !(k in stats)), [], 'every stat it declares a counter, it reports');
    if (c.silent) {
      const silent = await c.silent();
      const mixed = [silent, ...good];
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error('tick timeout')), 1500);
      const out = await session.read(mixed, controller.signal);
      clearTimeout(timer);
      t.equal(out.length, mixed.length, 'one reading per request with a silent device among them');
      t.equal(out[0]?.ok, false, 'the silent device is a failed reading, not a throw');
      if (out[0] && !out[0].ok) t.ok(out[0].error.length > 0, `says what is wrong: ${out[0].error}`);
      t.ok(out.slice(1).every((r) => r.ok), 'a silent device does not spoil the others');
    }
  } finally {
    await session.stop();
    await session.stop();
  }
  t.pass('stop is idempotent');
}

/** What a sink's conformance run needs: the sink, and its real receiver to watch, take down and hang. */
export interface AlertSinkCase {
  /** The sink under test, delivering to the receiver; the suite stops it at the end. */
  sink: AlertSink;
  /**
   * Resolves once the receiver holds `alert` as delivered under `id` (a request carrying the id, a
   * stream message of that id, Alertmanager listing it — or, resolved, no longer); rejects when it
   * does not within a generous deadline.
   */
  received(alert: Alert, id: string): Promise<void>;
  /** Takes the receiver away (stopped, or its stream removed): the next delivery fails. */
  down(): Promise<void>;
  /** Brings the receiver back as it was. */
  up(): Promise<void>;
  /** Makes the receiver take a delivery and never answer (its process stopped, its answers held); resolves to what lets it go on. */
  hang(): Promise<() => Promise<void>>;
  /** A sink whose deliveries this receiver refuses for good (a wrong path, bad credentials); absent when every failure of the sink is retryable. */
  refused?: AlertSink;
}

/** An alert of srv`<n>`, firing since a minute ago or resolved now. */
function sampleAlert(n: number, state: Alert['state']): Alert {
  const now = Date.now();
  return {
    id: `conformance.cooling.hot.srv${n}`,
    probe: 'conformance',
    rule: 'cooling',
    decision: 'hot',
    indicator: 'inlet',
    device: `srv${n}`,
    value: state === 'firing' ? 41.5 : 24,
    threshold: 35,
    severity: 'critical',
    state,
    message: `srv${n} inlet at ${state === 'firing' ? 41.5 : 24} °C`,
    since: now - 60_000,
    ts: now,
  };
}

/** Delivers and returns what `deliver` threw (undefined when it resolved). */
const outcome = (sink: AlertSink, a: Alert, signal: AbortSignal): Promise<unknown> =>
  sink.deliver(a, transitionId(a), signal).then(
    () => undefined,
    (err: unknown) => err,
  );

/**
 * The shared conformance suite every alert sink runs (one suite per extension point), against
 * its real receiver: each transition is delivered with its stable id, a receiver that is away makes
 * a retryable ProbemeshError and gets the same transition once back, a refusal is not retryable,
 * an abort of the signal (before or during a delivery) rejects with the signal's reason, and
 * `stop()` is idempotent.
 */
export async function alertSinkConformance(t: Test, c: AlertSinkCase): Promise<void> {
  const { sink } = c;
  const never = new AbortController().signal;
  t.match(sink.name, /^[A-Za-z0-9_-]+$/, 'has a name, as the outbox keys its store records');

  await t.test('delivers each transition with its stable id', async (t) => {
    for (const a of [sampleAlert(1, 'firing'), sampleAlert(1, 'resolved')]) {
      t.equal(await outcome(sink, a, never), undefined, `${a.state}: delivered`);
      await c.received(a, transitionId(a));
      t.pass(`${a.state}: the receiver holds it under ${transitionId(a)}`);
    }
  });

  await t.test('a receiver that is away: a retryable ProbemeshError; the same transition is delivered once it is back', async (t) => {
    const a = sampleAlert(2, 'firing');
    await c.down();
    let err: unknown;
    try {
      err = await outcome(sink, a, never);
    } finally {
      await c.up();
    }
    t.type(err, ProbemeshError, `fails: ${messageOf(err)}`);
    t.equal((err as ProbemeshError).retryable, true, 'retryable: the outbox keeps it and tries again');
    t.equal(await outcome(sink, a, never), undefined, 'the retry is delivered');
    await c.received(a, transitionId(a));
    t.pass('the receiver holds it');
    const resolved = sampleAlert(2, 'resolved');
    await sink.deliver(resolved, transitionId(resolved), never);
    await c.received(resolved, transitionId(resolved));
  });

  await t.test('a refusal is a ProbemeshError that is not retryable', { skip: c.refused ? false : 'every failure of this sink is retryable' }, async (t) => {
    const err = await outcome(c.refused!, sampleAlert(3, 'firing'), never);
    t.type(err, ProbemeshError, `refused: ${messageOf(err)}`);
    t.equal((err as ProbemeshError).retryable, false, 'not retryable: the outbox gives it up');
    await c.refused!.stop?.();
  });

  await t.test('an abort of the signal, before or during a delivery, rejects with its reason', async (t) => {
    const before = new AbortController();
    before.abort(new Error('aborted before'));
    t.equal(await outcome(sink, sampleAlert(4, 'firing'), before.signal), before.signal.reason, 'aborted before: its reason');
    const release = await c.hang();
    try {
      const during = new AbortController();
      const result = outcome(sink, sampleAlert(4, 'firing'), during.signal);
      await new Promise((r) => setImmediate(r)); // the delivery is under way, and the receiver does not answer
      during.abort(new Error('aborted during'));
      t.equal(await result, during.signal.reason, 'aborted while the receiver hangs: its reason, without waiting for an answer');
    } finally {
      await release();
    }
  });

  await t.test('stop() is idempotent', { skip: sink.stop ? false : 'nothing runs between its deliveries' }, async (t) => {
    sink.start?.({ active: () => [sampleAlert(5, 'firing')] });
    await sink.stop!();
    await sink.stop!();
    t.pass('stopped twice');
  });
}
