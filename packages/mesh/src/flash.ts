import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { messageOf } from '@probemesh/core';
import { ProbeConfig, buckets, check, configKey } from '@probemesh/model';

/** Opens (creating when missing) the `pm_config` bucket, keeping a few revisions per probe. */
export function configBucket(nc: NatsConnection, jsDomain?: string): Promise<KV> {
  return new Kvm(jetstream(nc, jsDomain ? { domain: jsDomain } : {})).create(buckets.config, { history: 5 });
}

/** "Flash": validates a probe's whole configuration and puts it under `probe.<id>`; returns the revision. */
export async function flash(nc: NatsConnection, config: unknown, jsDomain?: string): Promise<number> {
  const cfg = check(ProbeConfig, config, 'probe config');
  const kv = await configBucket(nc, jsDomain);
  return kv.put(configKey(cfg.id), JSON.stringify(cfg));
}

/** What a new node needs to boot and join: its id, where NATS is, its credentials, its data dir. */
export interface BootBundle {
  probe: string;
  nats: ProbeConfig['nats'];
  dataDir: string;
}

export function bootBundle(config: ProbeConfig, dataDir = config.dataDir ?? `/var/lib/probemesh/${config.id}`): BootBundle {
  if (!config.nats) throw new Error(`probe '${config.id}' has no nats section: a flashed probe needs to reach NATS`);
  return { probe: config.id, nats: config.nats, dataDir };
}

/**
 * Watches `probe.<id>` and hands every valid new configuration to `apply`, in order; an invalid
 * one is reported through `invalid` and never applied.
 */
export async function watchConfig(
  nc: NatsConnection,
  id: string,
  apply: (cfg: ProbeConfig, revision: number) => Promise<void>,
  invalid: (message: string, revision: number) => void,
  jsDomain?: string,
): Promise<{ stop(): void }> {
  const kv = await configBucket(nc, jsDomain);
  const it = await kv.watch({ key: configKey(id), ignoreDeletes: true });
  void (async () => {
    for await (const e of it) {
      if (e.operation !== 'PUT') continue;
      try {
        await apply(check(ProbeConfig, e.json(), `flashed config of ${id}`), e.revision);
      } catch (err) {
        invalid(messageOf(err), e.revision);
      }
    }
  })();
  return { stop: () => it.stop() };
}
