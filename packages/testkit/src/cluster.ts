import { mkdir } from 'node:fs/promises';
import { relative } from 'node:path';
import { freeTcpPort, tempDir } from './ports.js';
import { startNats, type NatsServer } from './nats.js';

/** A cluster of real nats-servers on free loopback ports. */
export interface NatsCluster {
  /** The nodes, by index; a node restarted with `restart(i)` is replaced here. */
  servers: NatsServer[];
  /** Every node's client URL (the seeds a probe lists). */
  urls: string[];
  /** Every node's leaf node URL (`nats-leaf://…`), when started with `leafnodes`. */
  leafnodeUrls: string[];
  /** Kills node `i` at once (SIGKILL). */
  kill(i: number): Promise<void>;
  /** Starts node `i` again on its ports with its store. */
  restart(i: number): Promise<void>;
  /** Stops every node and removes the stores it made. */
  remove(): Promise<void>;
}

/** How to start a cluster. */
export interface NatsClusterOptions {
  /** Nodes (default 3), named n1, n2 … */
  size?: number;
  /** A config file each node reads first (e.g. deploy/nats/cluster/n1.conf); what differs on one machine is set after it. */
  include?: (i: number) => string;
  /** More config after everything (accounts, authorization …). */
  config?: string;
  /** The JetStream domain (a hub that leaf nodes reach). */
  jsDomain?: string;
  /** Where node `i` keeps its store (default: a temp dir, removed with the cluster). */
  storeDir?: (i: number) => string;
  /** Each node also listens for leaf nodes (their URLs in `leafnodeUrls`). */
  leafnodes?: boolean;
}

/** Starts `size` nats-servers routed to one another in a JetStream cluster, on free loopback ports. */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const made = opts.storeDir ? [] : await Promise.all(Array.from({ length: size }, () => tempDir('probemesh-nats-')));
  const dirs = Array.from({ length: size }, (_, i) => opts.storeDir?.(i) ?? made[i]!.path);
  await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
  const free = () => Promise.all(Array.from({ length: size }, () => freeTcpPort()));
  const [ports, routePorts, leafPorts] = [await free(), await free(), await free()];
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
  const start = (i: number) =>
    startNats({
      name: `n${i + 1}`,
      port: ports[i]!,
      storeDir: dirs[i]!,
      config: [
        opts.include ? `include ${JSON.stringify(relative(dirs[i]!, opts.include(i)))}` : '',
        `server_name: n${i + 1}`,
        `listen: 127.0.0.1:${ports[i]}`,
        `jetstream { store_dir: ${JSON.stringify(`${dirs[i]}/js`)}, max_memory_store: 64MB, max_file_store: 1GB${opts.jsDomain ? `, domain: ${opts.jsDomain}` : ''} }`,
        `cluster { name: probemesh, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`,
        opts.leafnodes ? `leafnodes { listen: "127.0.0.1:${leafPorts[i]}" }` : opts.include ? 'leafnodes { listen: "127.0.0.1:-1" }' : '',
        opts.config ?? '',
      ].join('\n'),
    });
  const servers: NatsServer[] = [];
  const cluster: NatsCluster = {
    servers,
    urls: ports.map((p) => `nats://127.0.0.1:${p}`),
    leafnodeUrls: opts.leafnodes ? leafPorts.map((p) => `nats-leaf://127.0.0.1:${p}`) : [],
    kill: (i) => servers[i]!.process.kill(),
    async restart(i) {
      servers[i] = await start(i);
    },
    async remove() {
      await Promise.all(servers.map((s) => s.stop()));
      await Promise.all(made.map((d) => d.remove()));
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
