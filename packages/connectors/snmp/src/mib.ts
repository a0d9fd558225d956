import snmp from 'net-snmp';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where net-snmp keeps the MIB files it ships (IF-MIB, IANAifType-MIB and the SNMPv2 base modules). */
export function bundledMibDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('net-snmp')), 'lib', 'mibs');
}

/** The outcome of loading MIB files: what loaded and what did not, for the log. */
export interface MibLoadReport {
  modules: string[];
  problems: string[];
}

interface MibFile {
  path: string;
  module: string;
  imports: string[];
}

const moduleRe = /^\s*([A-Za-z][A-Za-z0-9-]*)\s+DEFINITIONS\s*::=\s*BEGIN/m;
const importsRe = /\bIMPORTS\b([\s\S]*?);/;
const fromRe = /\bFROM\s+([A-Za-z][A-Za-z0-9-]*)/g;

function scan(path: string): MibFile | string {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    return `${path}: ${(err as Error).message}`;
  }
  const module = moduleRe.exec(text)?.[1];
  if (!module) return `${path}: not a MIB module (no "NAME DEFINITIONS ::= BEGIN")`;
  const imports = [...(importsRe.exec(text)?.[1] ?? '').matchAll(fromRe)].map((m) => m[1]!);
  return { path, module, imports };
}

/** MIB files in `dirs` (files directly inside; a file path is taken as is). */
function mibFiles(dirs: readonly string[], problems: string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      if (statSync(d).isFile()) out.push(d);
      else for (const f of readdirSync(d).sort()) if (/\.(mib|txt|my)$/i.test(f) || !f.includes('.')) out.push(join(d, f));
    } catch (err) {
      problems.push(`MIB dir ${d}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * Resolves MIB names to numeric OIDs. Loads net-snmp's base modules, the MIBs it ships and the
 * operator's MIB files (in import order) once, on first use.
 */
export class MibResolver {
  private names?: { qualified: Map<string, string>; short: Map<string, Set<string>>; modules: string[] };
  private readonly cache = new Map<string, string>();
  /** What the last load did; set once loaded. */
  report?: MibLoadReport;

  constructor(private readonly dirs: readonly string[] = []) {}

  /** Loads the modules now (it happens on first `resolve` otherwise). */
  load(): MibLoadReport {
    if (this.names && this.report) return this.report;
    const problems: string[] = [];
    const store = snmp.createModuleStore();
    const have = new Set(store.getModuleNames(true));
    const files = new Map<string, MibFile>();
    for (const path of [...mibFiles([bundledMibDir()], problems), ...mibFiles(this.dirs, problems)]) {
      const f = scan(path);
      if (typeof f === 'string') problems.push(f);
      else if (!have.has(f.module)) files.set(f.module, f); // the operator's copy of a module wins over the bundled one
    }
    // Load in import order: net-snmp does not resolve imports across files itself.
    const loaded = new Set<string>();
    const visit = (m: string, stack: Set<string>): void => {
      const f = files.get(m);
      if (!f || loaded.has(m) || stack.has(m)) return;
      stack.add(m);
      for (const dep of f.imports) visit(dep, stack);
      loaded.add(m);
      for (const dep of f.imports) if (!have.has(dep) && !files.has(dep)) problems.push(`${m} imports ${dep}, which no MIB file defines`);
      // net-snmp reports some problems with console.log; keep them out of the probe's output.
      const { log, error, warn } = console;
      const said: string[] = [];
      console.log = console.error = console.warn = (...a: unknown[]) => void said.push(a.map(String).join(' '));
      try {
        store.loadFromFile(f.path);
        have.add(m);
      } catch (err) {
        problems.push(`${f.path}: ${(err as Error).message}`);
      } finally {
        Object.assign(console, { log, error, warn });
      }
      if (said.length && !problems.some((p) => p.startsWith(`${m} imports`))) problems.push(`${m}: ${said[0]}`);
    };
    for (const m of [...files.keys()].sort()) visit(m, new Set());

    const qualified = new Map<string, string>();
    const short = new Map<string, Set<string>>();
    for (const [name, oid] of Object.entries(store.translations.moduleToOid)) {
      qualified.set(name, oid);
      const s = name.slice(name.indexOf('::') + 2);
      let set = short.get(s);
      if (!set) short.set(s, (set = new Set()));
      set.add(oid);
    }
    const modules = store.getModuleNames(true).sort();
    this.names = { qualified, short, modules };
    this.report = { modules, problems };
    return this.report;
  }

  /** The numeric OID of `text` (numeric, MODULE::name[.index] or name[.index]); throws a message saying what is unknown. */
  resolve(text: string): string {
    const hit = this.cache.get(text);
    if (hit) return hit;
    const oid = this.lookup(text);
    this.cache.set(text, oid);
    return oid;
  }

  private lookup(text: string): string {
    if (/^\.?[0-9]+(\.[0-9]+)+$/.test(text)) return text.replace(/^\./, '');
    const m = /^(?:([A-Za-z][A-Za-z0-9-]*)::)?([A-Za-z][A-Za-z0-9-]*)((?:\.[0-9]+)*)$/.exec(text);
    if (!m) throw new Error(`'${text}' is neither a numeric OID nor a MIB name (MODULE::object[.index] or object[.index])`);
    this.load();
    const { qualified, short, modules } = this.names!;
    const [, mod, name, suffix] = m as unknown as [string, string | undefined, string, string];
    let base: string | undefined;
    if (mod) {
      base = qualified.get(`${mod}::${name}`);
      if (!base) {
        const why = modules.includes(mod) ? `module ${mod} has no object '${name}'` : `MIB module ${mod} is not loaded (loaded: ${modules.join(', ')})`;
        throw new Error(`unknown MIB name '${text}': ${why}; add MIB files with the connector's mibDirs option or PROBEMESH_MIB_DIRS`);
      }
    } else {
      const oids = short.get(name);
      if (!oids) throw new Error(`unknown MIB name '${text}': no loaded module defines '${name}'; qualify it (MODULE::${name}) and add MIB files with mibDirs or PROBEMESH_MIB_DIRS`);
      if (oids.size > 1) throw new Error(`ambiguous MIB name '${text}': '${name}' is ${[...oids].join(' and ')} in different modules; qualify it as MODULE::${name}`);
      base = [...oids][0]!;
    }
    return base + suffix;
  }
}
