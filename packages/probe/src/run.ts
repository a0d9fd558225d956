import { mkdir } from 'node:fs/promises';
import type { Connector, ProbemeshError, RestartPolicy } from '@probemesh/core';
import { durationMs, type ProbeConfig } from '@probemesh/model';
import { Probe, type ConfigRevisions, type LogFn } from '@probemesh/runtime';
import { createApi, readTls, serve } from '@probemesh/api';
import { MergedWindows, meshConnector, meshSettings, type MeshNode, type MeshOptions } from '@probemesh/mesh';
import { createSinks } from '@probemesh/sinks';
import { flashedOrigin, keepApplied, type Boot } from './boot.js';
import { checkConfig, merges } from './config.js';
import { builtinConnectors } from './connectors.js';
import { SupervisedMesh, meshRestarts } from './escalation.js';

/** A probe with its HTTP API, as `probemesh probe` runs it. */
export interface RunningProbe {
  probe: Probe;
  url: string;
  stop(): Promise<void>;
}

/** A logger that prints one line per event to stderr. */
export const consoleLog: LogFn = (level, message, fields) => {
  if (level === 'debug' && !process.env.PROBEMESH_DEBUG) return;
  const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${message}${extra}\n`);
};

/**
 * Starts a probe from its config: store, connectors, rule actors, HTTP API. `revisions` says
 * which flashed revision `config` is (a node booted from its bundle); each revision it applies
 * is kept in its store to boot from when the newest cannot be had or is refused.
 */
export async function runProbe(
  config: ProbeConfig,
  opts: {
    log?: LogFn;
    connectors?: Connector[];
    revisions?: Boot['revisions'];
    /** What escaped every handler, by kind (the process guard's counts), for /metrics. */
    escapes?: () => Record<string, number>;
    /**
     * Hears the mesh node fail past the probe's restart limit (`probemesh probe`: the process guard
     * stops the probe cleanly and exits 70, for systemd to start it again). Without it the node stays stopped.
     */
    onFatal?: (err: ProbemeshError) => void;
    /** How the mesh node is restarted whole after it failed (default `meshRestarts`). */
    meshRestarts?: RestartPolicy;
    /** Given to the mesh node as they are: its children's restarts, and faults for tests (`faultAt`). */
    meshNode?: Pick<MeshOptions, 'supervision' | 'faultAt'>;
  } = {},
): Promise<RunningProbe> {
  const log = opts.log ?? consoleLog;
  const revisions: ConfigRevisions = { ...opts.revisions };
  const dataDir = config.dataDir ?? `data/${config.id}`;
  await mkdir(dataDir, { recursive: true });
  const retention = config.retention
    ? {
        ...(config.retention.maxAge !== undefined ? { maxAgeMs: durationMs(config.retention.maxAge) } : {}),
        ...(config.retention.maxBytes !== undefined ? { maxBytes: config.retention.maxBytes } : {}),
      }
    : undefined;
  // A coordinator merges its children's partials and reads them through the `mesh` connector.
  const merged = merges(config) ? new MergedWindows(config.mesh?.children?.length ?? 0) : undefined;
  const builtin = opts.connectors ?? (await builtinConnectors());
  const connectors = [...builtin, ...(merged ? [meshConnector(merged)] : [])];
  // Webhooks and Alertmanagers get every alert transition through the probe's durable outbox.
  const sinks = await createSinks(config.alerts?.sinks ?? [], { log: (level, message) => log(level, `[alerts] ${message}`) });
  const probe = await Probe.start(
    {
      id: config.id,
      ...(config.role ? { role: config.role } : {}),
      ...(config.parent ? { parent: config.parent } : {}),
      dataDir,
      connectors,
      ...(retention ? { retention } : {}),
      log,
      sinks,
      ...(config.nats ? { configRevisions: () => revisions } : {}),
      ...(opts.escapes ? { uncaughtErrors: opts.escapes } : {}),
      ...(config.nats ? { meshNode: () => supervised?.state() } : {}),
    },
    { devices: config.devices ?? [], indicators: config.indicators ?? [], rules: config.rules ?? [] },
  );
  // The mesh node, restarted whole when it fails (SupervisedMesh). It is there before the API
  // serves anything: it starts below, the server after it.
  let supervised: SupervisedMesh | undefined;
  const mesh = () => supervised!.node;
  const app = createApi(probe, {
    tokens: config.tokens ?? [],
    ...(config.http?.bodyLimit ? { bodyLimit: config.http.bodyLimit } : {}),
    ...(config.nats ? { forward: (id, req) => mesh().request(id, req), mesh: () => mesh().membership() } : {}),
    ...(config.nats && merged ? { meshAlerts: (f: Parameters<MeshNode['meshAlerts']>[0]) => mesh().meshAlerts(f), meshWindows: (f: Parameters<MeshNode['windows']>[0]) => mesh().windows(f) } : {}),
  });
  try {
    if (opts.revisions) await keepApplied(probe.store, { revision: opts.revisions.applied, config });
    const host = config.http?.host ?? '127.0.0.1';
    if (config.nats) {
      merged?.attach(probe.store);
      supervised = await SupervisedMesh.start(
        {
          ...opts.meshNode,
          id: config.id,
          role: config.role ?? 'standalone',
          ...(config.parent ? { parent: config.parent } : {}),
          nats: config.nats,
          store: probe.store,
          ...meshSettings(config),
          ...(merged ? { merged } : {}),
          log: (level, message) => log(level, `[mesh] ${message}`),
          api: app.answer, // requests other probes forward here (?probe=<this id>)
          // Flash: a config put in KV (probemesh flash) replaces this probe's entities live.
          config: {
            async apply(cfg, rev) {
              revisions.latest = Math.max(rev, revisions.latest ?? 0);
              if (rev === revisions.applied) return;
              // The whole revision is checked first, so a refused one changes nothing.
              await checkConfig(cfg, builtin, flashedOrigin(config.id, rev));
              await probe.replaceAll({ devices: cfg.devices ?? [], indicators: cfg.indicators ?? [], rules: cfg.rules ?? [] });
              await keepApplied(probe.store, { revision: rev, config: cfg });
              revisions.applied = rev;
              delete revisions.note;
              log('info', `applied flashed config revision ${rev}`);
              const later = (['role', 'parent', 'group', 'dataDir', 'http', 'tokens', 'nats', 'mesh', 'alerts', 'retention'] as const).filter((k) => JSON.stringify(cfg[k]) !== JSON.stringify(config[k]));
              if (later.length) log('warn', `flashed config revision ${rev} also changes ${later.join(', ')}: these apply when the probe restarts`);
            },
            invalid(message, rev) {
              revisions.latest = Math.max(rev, revisions.latest ?? 0);
              revisions.note = `revision ${rev} not applied: ${message}`;
              log('warn', `flashed config revision ${rev} not applied: ${message}`);
            },
          },
        },
        probe,
        { restarts: opts.meshRestarts ?? meshRestarts, log, ...(opts.onFatal ? { onFatal: opts.onFatal } : {}) },
      );
      log('info', `in the mesh at ${config.nats.servers.join(', ')}; alerts on pm.alert.*.${config.id}.>`);
    }
    const tls = config.http?.tls && (await readTls(config.http.tls));
    const server = await serve(app, { host, port: config.http?.port ?? 8080, ...(tls ? { tls } : {}), ...(config.http?.maxConnections ? { maxConnections: config.http.maxConnections } : {}) });
    log('info', `probe ${config.id} up: ${server.url} (data in ${dataDir})`);
    return {
      probe,
      url: server.url,
      async stop() {
        app.close();
        await server.close();
        await supervised?.stop();
        await probe.stop(); // its outbox stops the sinks
      },
    };
  } catch (err) {
    await supervised?.stop();
    await probe.stop();
    throw err;
  }
}
