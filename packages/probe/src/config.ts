import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { messageOf, type Connector } from '@probemesh/core';
import { MergedWindows, meshConnector } from '@probemesh/mesh';
import { BootBundle, ProbeConfig, ProbemeshError, ValidationError, issues, type Issue, type Static, type TSchema } from '@probemesh/model';
import { checkEntities } from '@probemesh/runtime';
import { createSinks } from '@probemesh/sinks';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

/** One thing wrong in a config: its field (a JSON pointer), what is wrong, and where in the file when known. */
export interface ConfigProblem extends Issue {
  line?: number;
  column?: number;
}

/**
 * A config (file, flashed revision or boot bundle) that the probe refuses. The message lists
 * every problem as `file:line:column /field: what is wrong, and what would be valid`.
 */
export class ConfigError extends ValidationError {
  override name = 'ConfigError';
  constructor(
    /** The file, or the KV key and revision, the config came from. */
    readonly origin: string,
    readonly problems: ConfigProblem[],
    options: { cause?: unknown } = {},
  ) {
    super(origin, problems, options);
    const where = (p: ConfigProblem) => `${origin}${p.line ? `:${p.line}:${p.column}` : ''} ${p.path || '/'}`;
    this.message = `${origin} is not a valid probe config:\n${problems.map((p) => `  ${where(p)}: ${p.message}`).join('\n')}`;
  }
}

/** Text of a config with the place of each field, so problems can say where they are. */
class ConfigText {
  readonly value: unknown;
  private readonly doc;
  private readonly lines = new LineCounter();

  constructor(
    text: string,
    readonly origin: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: true });
    const [syntax] = this.doc.errors;
    if (syntax) {
      const at = syntax.linePos?.[0];
      throw new ConfigError(origin, [{ path: '', message: `not valid YAML or JSON: ${syntax.message.split('\n')[0]}`, ...(at ? { line: at.line, column: at.col } : {}) }], { cause: syntax });
    }
    this.value = this.doc.toJS();
  }

  /** `found` as problems placed in the file: at the field, or at the nearest enclosing one present. */
  problems(found: readonly Issue[]): ConfigProblem[] {
    return found.map((i) => ({ ...i, ...this.at(i.path) }));
  }

  /** Line and column of the field at `path` (its key when it has one). */
  private at(path: string): { line: number; column: number } | undefined {
    let node: unknown = this.doc.contents;
    let offset = (node as Node | null)?.range?.[0];
    for (const key of path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
        if (!pair) break;
        offset = (pair.key as Node).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node)) {
        node = node.items[Number(key)];
        offset = (node as Node | undefined)?.range?.[0] ?? offset;
      } else break;
    }
    if (offset === undefined) return undefined;
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /** The value checked against `schema`, or a ConfigError placing each problem. */
  check<T extends TSchema>(schema: T): Static<T> {
    const found = issues(schema, this.value);
    if (found.length) throw new ConfigError(this.origin, this.problems(found));
    return this.value as Static<T>;
  }
}

/**
 * Checks `config` as the probe applies it — connector parameters and device settings,
 * expressions, references — and throws a ConfigError with the probe's own message for each
 * entity it would refuse.
 */
export async function checkConfig(config: ProbeConfig, connectors: readonly Connector[], origin: string): Promise<void> {
  const found = await refusals(config, connectors);
  if (found.length) throw new ConfigError(origin, found);
}

/** What the probe would refuse of `config`, by place (`/rules/0`), in its own words. */
async function refusals(config: ProbeConfig, connectors: readonly Connector[]): Promise<Issue[]> {
  const all = merges(config) ? [...connectors, meshConnector(new MergedWindows())] : connectors;
  const refused = await checkEntities(all, { devices: config.devices ?? [], indicators: config.indicators ?? [], rules: config.rules ?? [] });
  const sinks = await createSinks(config.alerts?.sinks ?? []).then(
    (): Issue[] => [],
    (err: unknown) => (err instanceof ValidationError ? err.issues : [{ path: '/alerts/sinks', message: messageOf(err) }]),
  );
  return [...refused.map((p) => ({ path: p.path, message: messageOf(p.error) })), ...sinks];
}

/** Parses a probe config (YAML or JSON text) against its schema; `base` resolves a relative dataDir. */
export function parseConfig(text: string, origin = 'config', base = process.cwd()): ProbeConfig {
  return resolveDataDir(new ConfigText(text, origin).check(ProbeConfig), base);
}

/**
 * Reads a config file and checks it; with `connectors`, also as the probe would apply it
 * (what `probemesh probe` and `probemesh flash` do), so a config is refused before anything runs
 * or is stored.
 */
export async function loadConfig(path: string, opts: { connectors?: readonly Connector[] } = {}): Promise<ProbeConfig> {
  const text = new ConfigText(await readText(path, 'config'), path);
  const config = resolveDataDir(text.check(ProbeConfig), dirname(resolve(path)));
  const refused = opts.connectors ? await refusals(config, opts.connectors) : [];
  if (refused.length) throw new ConfigError(path, text.problems(refused));
  return config;
}

/** Reads and checks a boot bundle (`probemesh flash --bundle`). */
export async function loadBundle(path: string): Promise<BootBundle> {
  return new ConfigText(await readText(path, 'boot bundle'), path).check(BootBundle);
}

/** A flashed revision's text (one JSON line in KV) checked against the schema. */
export function parseFlashed(text: string, origin: string): ProbeConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(origin, [{ path: '', message: `not JSON: ${messageOf(err)}` }], { cause: err });
  }
  const found = issues(ProbeConfig, value);
  if (found.length) throw new ConfigError(origin, found);
  return value as ProbeConfig;
}

/** Whether `config` makes a coordinator, merging its children's partials (read through the `mesh` connector). */
export function merges(config: ProbeConfig): boolean {
  return !!config.nats && (config.role === 'coordinator' || !!config.mesh?.children);
}

function resolveDataDir(cfg: ProbeConfig, base: string): ProbeConfig {
  if (cfg.dataDir && !isAbsolute(cfg.dataDir)) cfg.dataDir = resolve(base, cfg.dataDir);
  return cfg;
}

/** A file's text, or an error that says which file of what kind could not be read. */
function readText(path: string, what: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ProbemeshError(`cannot read ${what} ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { cause: err });
  });
}
