import { readFile } from 'node:fs/promises';
import type { Connector } from '@probemesh/core';
import { check, Device, Indicator, issues, ProbeConfig, Rule } from '@probemesh/model';
import type { Test } from 'tap';
import { parse } from 'yaml';

/** An atomic indicator of a sample, with its source split into scheme and parameters. */
export interface SampleIndicator {
  id: string;
  scheme: string;
  params: Record<string, unknown>;
}

/**
 * Checks a connector package's `sample.yaml`: it fits ProbeConfig, its devices' settings and its
 * atomic indicators' parameters fit the connectors of their schemes, its rules are valid.
 * Returns the atomic indicators for checks of the connector's own (OIDs resolve, filters compile).
 */
export async function checkSample(t: Test, sample: URL, connectors: readonly Connector[]): Promise<SampleIndicator[]> {
  const doc = parse(await readFile(sample, 'utf8')) as Record<string, unknown[] | undefined>;
  t.same(issues(ProbeConfig, { id: 'sample', ...doc }), [], 'fits ProbeConfig');
  const byScheme = new Map(connectors.map((c) => [c.scheme, c]));
  for (const d of (doc.devices ?? []).map((x) => check(Device, x, 'device'))) {
    for (const [scheme, settings] of Object.entries(d.protocols ?? {})) {
      const c = byScheme.get(scheme);
      if (c?.deviceParams) t.same(issues(c.deviceParams, settings), [], `device ${d.id} ${scheme} settings`);
    }
  }
  const atomic: SampleIndicator[] = [];
  for (const i of (doc.indicators ?? []).map((x) => check(Indicator, x, 'indicator'))) {
    if (i.kind !== 'atomic') continue;
    const { scheme, ...params } = i.source;
    const c = byScheme.get(scheme);
    t.ok(c, `indicator ${i.id}: scheme ${scheme} is one of ${[...byScheme.keys()].join(', ')}`);
    if (c) t.same(issues(c.params, params), [], `indicator ${i.id} params`);
    atomic.push({ id: i.id, scheme, params });
  }
  for (const r of doc.rules ?? []) check(Rule, r, 'rule');
  return atomic;
}
