import { connect as tcpConnect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeTcpPort, tempDir } from './ports.js';
import { spawnLogged, waitUntil, type Spawned } from './process.js';

export interface NatsServerOptions {
  /** Enable JetStream with a store in a temp dir (default true). */
  jetstream?: boolean;
  /** More nats-server.conf text (accounts, authorization, leafnodes, cluster …). `{{port}}`-free: ports are set here. */
  config?: string;
  /** Reuse a port (for restarts). */
  port?: number;
  /** Reuse a JetStream store dir (for restarts). */
  storeDir?: string;
  /** A server name (needed in clusters and leaf setups). */
  name?: string;
  /** A JetStream domain (a hub that leaf nodes reach). */
  jsDomain?: string;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Run inside this network namespace (`ip netns exec`); ready when its log says so. */
  netns?: string;
}

/** A real nats-server on a free loopback port. */
export interface NatsServer {
  port: number;
  url: string;
  storeDir: string;
  process: Spawned;
  /** Stops it; the store dir stays until `remove()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<NatsServer>;
  /** Stops it and removes its files. */
  remove(): Promise<void>;
}

function infoReceived(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('data', (b) => done(b.toString().startsWith('INFO')));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

/** Starts Debian's nats-server with a generated config; resolves once it greets clients. */
export async function startNats(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = opts.storeDir ? { path: opts.storeDir, remove: async () => undefined } : await tempDir('probemesh-nats-');
  const port = opts.port ?? (await freeTcpPort());
  const host = opts.host ?? '127.0.0.1';
  const conf = [
    `listen: ${host}:${port}`,
    opts.name ? `server_name: ${opts.name}` : '',
    opts.jetstream === false ? '' : `jetstream { store_dir: ${JSON.stringify(join(dir.path, 'js'))}, max_memory_store: 64MB, max_file_store: 1GB${opts.jsDomain ? `, domain: ${opts.jsDomain}` : ''} }`,
    opts.config ?? '',
  ].join('\n');
  const confPath = join(dir.path, 'nats.conf');
  await writeFile(confPath, conf + '\n');
  const proc = opts.netns ? spawnLogged('ip', ['netns', 'exec', opts.netns, 'nats-server', '-c', confPath]) : spawnLogged('nats-server', ['-c', confPath]);
  const where = `nats-server on ${host}:${port}${opts.netns ? ` in ${opts.netns}` : ''}`;
  await waitUntil(where, () => (opts.netns ? proc.output().includes('Server is ready') : infoReceived(port)), 15_000, proc).catch(async (err: unknown) => {
    await proc.stop();
    throw err;
  });
  const server: NatsServer = {
    port,
    url: `nats://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    storeDir: dir.path,
    process: proc,
    stop: () => proc.stop(),
    restart: () => startNats({ ...opts, port, storeDir: dir.path }),
    async remove() {
      await proc.stop();
      if (!opts.storeDir) await dir.remove();
    },
  };
  return server;
}
