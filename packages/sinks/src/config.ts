import { readFile } from 'node:fs/promises';
import { messageOf, type Clock } from '@probemesh/core';
import { builtinSinks, durationMs, ValidationError, type AlertSinkConfig, type Issue } from '@probemesh/model';
import { AlertmanagerSink } from './alertmanager.js';
import { WebhookSink } from './webhook.js';

/** What the sinks built from a config share. */
export interface SinkContext {
  clock?: Clock;
  log?: (level: 'warn', message: string) => void;
  /** Where `alerts.sinks` sits in the config, for error paths (default `/alerts/sinks`). */
  path?: string;
}

/** A sink built from the config, for the probe's outbox (which starts and stops it). */
export type ConfiguredSink = WebhookSink | AlertmanagerSink;

/** Names a probe gives its own sinks (the mesh's); a configured sink of such a name would share its outbox. */
const BUILTIN: ReadonlySet<string> = new Set(Object.values(builtinSinks));

/**
 * Builds the sinks of a probe's `alerts.sinks` (CA files read, names defaulted to the type, then
 * `-2`, `-3` …). Throws a ValidationError naming every entry that is wrong, a name the probe gives
 * one of its own sinks included.
 */
export async function createSinks(configs: readonly AlertSinkConfig[], ctx: SinkContext = {}): Promise<ConfiguredSink[]> {
  const path = ctx.path ?? '/alerts/sinks';
  const problems: Issue[] = [];
  const sinks: ConfiguredSink[] = [];
  const names = new Set<string>();
  const ofType = new Map<string, number>();
  for (const [i, c] of configs.entries()) {
    const n = (ofType.get(c.type) ?? 0) + 1;
    ofType.set(c.type, n);
    const name = c.name ?? (n === 1 ? c.type : `${c.type}-${n}`);
    if (names.has(name)) problems.push({ path: `${path}/${i}/name`, message: `'${name}' names another sink too; give each sink its own name` });
    if (BUILTIN.has(name)) problems.push({ path: `${path}/${i}/name`, message: `'${name}' is the name of the probe's own sink to the mesh; give this sink another name` });
    names.add(name);
    try {
      const http = {
        name,
        url: c.url,
        ...(c.headers ? { headers: c.headers } : {}),
        ...(c.timeout !== undefined ? { timeoutMs: durationMs(c.timeout) } : {}),
        ...(c.ca ? { ca: await readCa(c.ca) } : {}),
        ...(ctx.clock ? { clock: ctx.clock } : {}),
      };
      sinks.push(
        c.type === 'webhook'
          ? new WebhookSink({ ...http, ...(c.secret ? { secret: c.secret } : {}) })
          : new AlertmanagerSink({ ...http, ...(c.labels ? { labels: c.labels } : {}), ...(c.resend !== undefined ? { resendMs: durationMs(c.resend) } : {}), ...(ctx.log ? { log: ctx.log } : {}) }),
      );
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(...err.issues.map((p) => ({ path: `${path}/${i}${p.path}`, message: p.message })));
    }
  }
  if (problems.length) throw new ValidationError('alert sinks', problems);
  return sinks;
}

async function readCa(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new ValidationError('alert sink', [{ path: '/ca', message: `cannot read ${file}: ${messageOf(err)}` }], { cause: err });
  }
}
