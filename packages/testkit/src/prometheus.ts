// Real Prometheus and Alertmanager (Debian packages) on free loopback ports, for the sink and
// scrape tests: generated configs, stores in temp dirs, short retention, stopped by the caller.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freeTcpPort, tempDir } from './ports.js';
import { spawnLogged, waitUntil, type Spawned } from './process.js';

/** A Prometheus or an Alertmanager started for a test. */
export interface StartedServer {
  url: string;
  process: Spawned;
  /** Stops it and removes its files. Idempotent. */
  stop(): Promise<void>;
  /** Stops it, keeping its files. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same files. */
  restart(): Promise<StartedServer>;
}

/** One alert as Alertmanager's own `GET /api/v2/alerts` lists it. */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

async function start(
  what: string,
  cmd: string,
  config: string,
  args: (dir: string, port: number) => string[],
  again?: { dir: { path: string; remove(): Promise<void> }; port: number },
): Promise<StartedServer> {
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

/** Alertmanager (Debian `prometheus-alertmanager`) with one receiver that sends nowhere, no clustering. */
export function startAlertmanager(): Promise<StartedServer> {
  const config = ['route:', '  receiver: nowhere', '  group_wait: 1s', 'receivers:', '  - name: nowhere', ''].join('\n');
  return start('alertmanager', 'prometheus-alertmanager', config, (dir, port) => [
    `--config.file=${join(dir, 'config.yml')}`,
    `--storage.path=${dir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ]);
}

/** The alerts an Alertmanager lists as active now (resolved ones are not listed). */
export async function alertmanagerAlerts(am: { url: string }): Promise<GettableAlert[]> {
  const res = await fetch(`${am.url}/api/v2/alerts`);
  if (!res.ok) throw new Error(`${am.url}/api/v2/alerts answered ${res.status}`);
  return (await res.json()) as GettableAlert[];
}

/** Prometheus (Debian `prometheus`) scraping one target every second with a bearer token; one hour of retention. */
export function startPrometheus(target: { url: string; token: string }): Promise<StartedServer> {
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
