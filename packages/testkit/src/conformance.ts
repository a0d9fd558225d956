import type { Connector, ConnectorSession, ReadRequest } from '@probemesh/core';
import { systemClock } from '@probemesh/core';
import { fits } from '@probemesh/model';
import type { Test } from 'tap';

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
 * The shared conformance suite every connector runs (STYLE: one suite per extension point):
 * schemas exist and reject bad input, reads return one Reading per request in order, a silent
 * device is a failed Reading (never a throw) and honours the abort signal, stop is idempotent.
 */
export async function connectorConformance(t: Test, connector: Connector, c: ConformanceCase): Promise<void> {
  t.match(connector.scheme, /^[a-z][a-z0-9-]{0,31}$/, 'scheme is a valid scheme name');
  t.ok(connector.summary.length > 0, 'has a summary');
  for (const bad of c.badParams) t.notOk(fits(connector.params, bad), `rejects params ${JSON.stringify(bad)}`);
  const logs: string[] = [];
  const session = await connector.start({ clock: systemClock, dataDir: '/tmp', log: (level, m) => logs.push(`${level} ${m}`) });
  try {
    const good = await c.good();
    for (const r of good) t.ok(fits(connector.params, r.params), `accepts params ${JSON.stringify(r.params)}`);
    await session.sync?.(good);
    if (c.stimulate) await c.stimulate(session);
    const readings = await session.read(good, AbortSignal.timeout(10_000));
    t.equal(readings.length, good.length, 'one reading per request');
    readings.forEach((r, i) => t.ok(r.ok, `request ${i} (${good[i]!.indicator}) reads: ${r.ok ? 'ok' : r.error}`));
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
