import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { messageOf, whenAborted } from '@probemesh/core';
import { ProbeConfig, buckets, check, configKey, type BootBundle } from '@probemesh/model';
import { clusterSize } from './streams.js';

/** Opens (creating when missing) the `pm_config` bucket, keeping a few revisions per probe, on three nodes of a cluster. */
export function configBucket(nc: NatsConnection, jsDomain?: string): Promise<KV> {
  const replicas = clusterSize(nc.info, 1) >= 3 ? 3 : 1;
  return new Kvm(jetstream(nc, jsDomain ? { domain: jsDomain } : {})).create(buckets.config, { history: 5, replicas });
}

/** "Flash": validates a probe's whole configuration and puts it under `probe.<id>`; returns the revision. */
export async function flash(nc: NatsConnection, config: unknown, jsDomain?: string): Promise<number> {
  const cfg = check(ProbeConfig, config, 'probe config');
  const kv = await configBucket(nc, jsDomain);
  return kv.put(configKey(cfg.id), JSON.stringify(cfg));
}

/** What a new node needs to boot and join: its id, where NATS is, its credentials, its data dir. */
export function bootBundle(config: ProbeConfig, dataDir = config.dataDir ?? `/var/lib/probemesh/${config.id}`): BootBundle {
  if (!config.nats) throw new Error(`probe '${config.id}' has no nats section: a flashed probe needs to reach NATS`);
  return { probe: config.id, nats: config.nats, dataDir };
}

/**
 * The newest configuration flashed for probe `id`, as stored (the probe checks it before it runs
 * it), with its revision; waits up to `waitMs` for one. A node booting from a bundle takes its
 * configuration from here.
 */
export async function fetchFlashed(nc: NatsConnection, id: string, jsDomain?: string, waitMs = 0): Promise<{ revision: number; text: string }> {
  const kv = await configBucket(nc, jsDomain);
  const now = await kv.get(configKey(id));
  if (now?.operation === 'PUT') return { revision: now.revision, text: now.string() };
  if (waitMs <= 0) throw new Error(`nothing flashed for probe '${id}' yet: run probemesh flash --config <its config>`);
  const it = await kv.watch({ key: configKey(id), ignoreDeletes: true });
  const timer = setTimeout(() => it.stop(), waitMs);
  try {
    for await (const e of it) if (e.operation === 'PUT') return { revision: e.revision, text: e.string() };
  } finally {
    clearTimeout(timer);
    it.stop();
  }
  throw new Error(`nothing flashed for probe '${id}' within ${waitMs} ms: run probemesh flash --config <its config>`);
}

/**
 * Follows `probe.<id>` until `signal` aborts (or the watch ends): hands every valid configuration
 * to `apply`, in order; an invalid one, or one `apply` refuses, goes to `invalid` and is never applied.
 */
export async function followConfig(
  nc: NatsConnection,
  id: string,
  apply: (cfg: ProbeConfig, revision: number) => Promise<void>,
  invalid: (message: string, revision: number) => void,
  jsDomain: string | undefined,
  signal: AbortSignal,
): Promise<void> {
  const kv = await configBucket(nc, jsDomain);
  const it = await kv.watch({ key: configKey(id), ignoreDeletes: true });
  const forget = whenAborted(signal, () => it.stop());
  try {
    for await (const e of it) {
      if (e.operation !== 'PUT') continue;
      try {
        await apply(check(ProbeConfig, e.json(), `flashed config of ${id}`), e.revision);
      } catch (err) {
        invalid(messageOf(err), e.revision);
      }
    }
  } finally {
    forget();
  }
}

