// Real Prometheus and Alertmanager (Debian packages) on free loopback ports, for the sink and
// scrape tests: generated configs, stores in temp dirs, short retention, stopped by the caller.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeTcpPort, spawnLogged, tempDir, waitUntil, type Spawned } from '@probemesh/testkit';

/** A server started for a test. */
export interface Started {
  url: string;
  process: Spawned;
  /** Stops it and removes its files. Idempotent. */
  stop(): Promise<void>;
  /** Stops it, keeping its files. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same files. */
  restart(): Promise<Started>;
}

async function start(
  what: string,
  cmd: string,
  config: string,
  args: (dir: string, port: number) => string[],
  again?: { dir: { path: string; remove(): Promise<void> }; port: number },
): Promise<Started> {
  const dir = again?.dir ?? (await tempDir(`probemesh-${cmd}-`));
  const port = again?.port ?? (await freeTcpPort());
  await writeFile(join(dir.path, 'config.yml'), config);
  const proc = spawnLogged(cmd, args(dir.path, port));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    await dir.remove();
  };
  try {
    await waitUntil(`${what} on ${url}`, async () => (await fetch(`${url}/-/ready`)).ok, 60_000, proc);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, process: proc, stop, kill: () => proc.stop(), restart: () => start(what, cmd, config, args, { dir, port }) };
}

/** Alertmanager with one receiver that sends nowhere, no clustering. */
export function startAlertmanager(): Promise<Started> {
  const config = ['route:', '  receiver: nowhere', '  group_wait: 1s', 'receivers:', '  - name: nowhere', ''].join('\n');
  return start('alertmanager', 'prometheus-alertmanager', config, (dir, port) => [
    `--config.file=${join(dir, 'config.yml')}`,
    `--storage.path=${dir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
}

/** Prometheus scraping one target every second with a bearer token; one hour of retention. */
export function startPrometheus(target: { url: string; token: string }): Promise<Started> {
  const u = new URL(target.url);
  const config = [
    'global:',
    '  scrape_interval: 1s',
    'scrape_configs:',
    '  - job_name: probemesh',
    `    scheme: ${u.protocol.replace(':', '')}`,
    '    metrics_path: /metrics',
    `    authorization: { type: Bearer, credentials: ${JSON.stringify(target.token)} }`,
    `    static_configs: [{ targets: [${JSON.stringify(u.host)}] }]`,
    '',
  ].join('\n');
  return start('prometheus', 'prometheus', config, (dir, port) => [
    `--config.file=${join(dir, 'config.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    '--storage.tsdb.retention.time=1h',
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
}
