import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ProbeConfig, check } from '@probemesh/model';
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
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read config ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: err });
  });
  return parseConfig(text, path, dirname(resolve(path)));
}
