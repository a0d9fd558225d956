import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fetchConfig, natsConnect } from '@probemesh/mesh';
import { BootBundle, ProbeConfig, check } from '@probemesh/model';
import { parse } from 'yaml';

/** Parses a probe config (YAML or JSON text) and validates it; `base` resolves a relative dataDir. */
export function parseConfig(text: string, origin = 'config', base = process.cwd()): ProbeConfig {
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (err) {
    throw new Error(`${origin}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const cfg = check(ProbeConfig, raw, origin);
  if (cfg.dataDir && !isAbsolute(cfg.dataDir)) cfg.dataDir = resolve(base, cfg.dataDir);
  return cfg;
}

/** Reads and validates a config file. */
export async function loadConfig(path: string): Promise<ProbeConfig> {
  return parseConfig(await readText(path, 'config'), path, dirname(resolve(path)));
}

/**
 * A new node's configuration from its boot bundle: connects with the bundle's credentials and
 * reads what was flashed for it (waiting up to `waitMs`); the bundle's nats and dataDir win.
 */
export async function configFromBundle(path: string, waitMs = 60_000): Promise<ProbeConfig> {
  const text = await readText(path, 'boot bundle');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const bundle = check(BootBundle, raw, path);
  const nc = await natsConnect(bundle.nats, { name: `probemesh-${bundle.probe}-boot` }).catch((err: Error) => {
    throw new Error(`cannot reach NATS at ${bundle.nats.servers.join(', ')}: ${err.message}`, { cause: err });
  });
  try {
    const cfg = await fetchConfig(nc, bundle.probe, bundle.nats.jsDomain, waitMs);
    return { ...cfg, nats: bundle.nats, dataDir: bundle.dataDir };
  } finally {
    await nc.close();
  }
}

/** A file's text, or an error that says which file of what kind could not be read. */
function readText(path: string, what: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${what} ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: err });
  });
}
