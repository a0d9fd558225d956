import { relative } from 'node:path';
import { freeTcpPort, tempDir } from './ports.js';
import { startNats, type NatsServer } from './nats.js';

/** A cluster of real nats-servers on free loopback ports. */
export interface NatsCluster {
  /** The nodes, by index; a node restarted with `restart(i)` is replaced here. */
  servers: NatsServer[];
  /** Every node's client URL (the seeds a probe lists). */
  urls: string[];
  /** Kills node `i` at once (SIGKILL). */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on its ports with its store. */
  restart(i: number): Promise<void>;
  /** Stops every node and removes their stores. */
  remove(): Promise<void>;
}

/**
 * Starts `size` nats-servers (named n1, n2 …) routed to one another in a JetStream cluster.
 * `include` names a config file per node (e.g. deploy/nats/cluster/n1.conf) read first; what differs
 * on one machine — ports, addresses, stores, routes — is set after it.
 */
export async function startNatsCluster(opts: { size?: number; include?: (i: number) => string; config?: string } = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const dirs = await Promise.all(Array.from({ length: size }, () => tempDir('probemesh-nats-')));
  const ports = await Promise.all(Array.from({ length: size }, () => freeTcpPort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freeTcpPort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
  const start = (i: number) =>
    startNats({
      name: `n${i + 1}`,
      port: ports[i]!,
      storeDir: dirs[i]!.path,
      config: [
        opts.include ? `include ${JSON.stringify(relative(dirs[i]!.path, opts.include(i)))}` : '',
        `server_name: n${i + 1}`,
        `listen: 127.0.0.1:${ports[i]}`,
        `jetstream { store_dir: ${JSON.stringify(`${dirs[i]!.path}/js`)}, max_memory_store: 64MB, max_file_store: 1GB }`,
        `cluster { name: probemesh, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`,
        opts.include ? 'leafnodes { listen: "127.0.0.1:-1" }' : '',
        opts.config ?? '',
      ].join('\n'),
    });
  const servers: NatsServer[] = [];
  const cluster: NatsCluster = {
    servers,
    urls: ports.map((p) => `nats://127.0.0.1:${p}`),
    kill: (i) => servers[i]!.process.kill(),
    async restart(i) {
      servers[i] = await start(i);
    },
    async remove() {
      await Promise.all(servers.map((s) => s.stop()));
      await Promise.all(dirs.map((d) => d.remove()));
    },
  };
  try {
    for (let i = 0; i < size; i++) servers.push(await start(i));
  } catch (err) {
    await cluster.remove();
    throw err;
  }
  return cluster;
}
