import { existsSync } from 'node:fs';
import { messageOf, type Connector } from '@probemesh/core';
import { fetchFlashed, natsConnect } from '@probemesh/mesh';
import { buckets, configKey, type ProbeConfig } from '@probemesh/model';
import type { ConfigRevisions, LogFn } from '@probemesh/runtime';
import { Store } from '@probemesh/store';
import { checkConfig, loadBundle, parseFlashed } from './config.js';

/** A flashed configuration revision as the probe applied it. */
export interface AppliedConfig {
  revision: number;
  config: ProbeConfig;
}

/** Where a probe keeps the last flashed revision it applied (a `store.config` kind and id). */
const APPLIED = ['probe', 'applied-config'] as const;

/** The last flashed revision this store's probe applied, if any. */
export function lastApplied(store: Store): AppliedConfig | undefined {
  return store.config.get<AppliedConfig>(...APPLIED);
}

/** Keeps `applied` as the revision to boot from when the newest cannot be had or is refused. */
export function keepApplied(store: Store, applied: AppliedConfig): Promise<void> {
  return store.config.put(...APPLIED, applied);
}

/** Where a probe's flashed configuration is kept: `<bucket>/<key>`, for messages. */
export const flashedKey = (probe: string) => `${buckets.config}/${configKey(probe)}`;

/** Where a flashed revision comes from, for messages. */
export const flashedOrigin = (probe: string, revision: number) => `${flashedKey(probe)} revision ${revision}`;

/** A node's configuration from its boot bundle, and its revisions. */
export interface Boot {
  config: ProbeConfig;
  revisions: ConfigRevisions & { applied: number };
}

/**
 * A node's configuration from its boot bundle: the newest revision flashed for it when NATS
 * answers and the probe accepts it; otherwise the last revision it applied (kept in its store),
 * saying which and why. Throws only when there is neither. The bundle's nats and dataDir win.
 */
export async function bootFromBundle(path: string, opts: { connectors: readonly Connector[]; waitMs?: number; log: LogFn }): Promise<Boot> {
  const bundle = await loadBundle(path);
  const onBundle = (cfg: ProbeConfig): ProbeConfig => ({ ...cfg, nats: bundle.nats, dataDir: bundle.dataDir });
  opts.log('info', `reading this node's config from NATS KV at ${bundle.nats.servers.join(', ')} (boot bundle ${path}) …`);
  const last = await readApplied(bundle.dataDir);
  let latest: number | undefined;
  let why: string;
  try {
    const nc = await natsConnect(bundle.nats, { name: `probemesh-${bundle.probe}-boot` }).catch((err: Error) => {
      throw new Error(`NATS at ${bundle.nats.servers.join(', ')} unreachable at boot: ${err.message}`, { cause: err });
    });
    try {
      // With a revision to fall back on there is no point waiting for one to be flashed.
      const flashed = await fetchFlashed(nc, bundle.probe, bundle.nats.jsDomain, last ? 0 : (opts.waitMs ?? 60_000));
      latest = flashed.revision;
      const origin = flashedOrigin(bundle.probe, flashed.revision);
      const config = onBundle(parseFlashed(flashed.text, origin));
      await checkConfig(config, opts.connectors, origin);
      opts.log('info', `running flashed config revision ${flashed.revision}, the newest`);
      return { config, revisions: { applied: flashed.revision, latest } };
    } finally {
      await nc.close();
    }
  } catch (err) {
    if (!last) throw new Error(`${messageOf(err)}\n(no flashed config was ever applied on this node, in ${bundle.dataDir}: nothing to run)`, { cause: err });
    why = messageOf(err);
  }
  opts.log('warn', `running flashed config revision ${last.revision}, the last this node applied: ${why}`);
  return { config: onBundle(last.config), revisions: { applied: last.revision, ...(latest !== undefined ? { latest } : {}), note: why } };
}

/** The last applied revision kept in the store at `dataDir` (opened only to read it). */
async function readApplied(dataDir: string): Promise<AppliedConfig | undefined> {
  if (!existsSync(dataDir)) return undefined;
  const store = Store.open({ path: dataDir });
  try {
    return lastApplied(store);
  } finally {
    await store.close();
  }
}
