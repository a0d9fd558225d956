import type { Connector } from '@probemesh/core';
import { MergedWindows, meshConnector } from '@probemesh/mesh';
import { ProbeConfig } from '@probemesh/model';

/** A JSON Schema node, as the generators read it. */
type Schema = {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  patternProperties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  [key: string]: unknown;
};

/** Every connector a probe config may use: the built-in ones and the coordinators' `mesh`. */
function allConnectors(builtin: readonly Connector[]): Connector[] {
  return [...builtin, meshConnector(new MergedWindows())].sort((a, b) => a.scheme.localeCompare(b.scheme));
}

/** A TypeBox schema as plain JSON Schema (its symbols dropped). */
const plain = (s: unknown): Schema => JSON.parse(JSON.stringify(s)) as Schema;

/** The object branch of an indicator union whose `kind` is `kind`. */
const branch = (union: Schema, key: string, value: string) => union.anyOf!.find((b) => b.properties?.[key]?.const === value)!;

/**
 * The JSON Schema of a probe config file (draft-07), for editors: the model's ProbeConfig with
 * each connector's indicator parameters (`source`, by `scheme`) and device settings
 * (`protocols.<scheme>`) from the connectors themselves.
 */
export function configJsonSchema(builtin: readonly Connector[]): Schema {
  const connectors = allConnectors(builtin);
  const root = plain(ProbeConfig);
  const atomic = branch(root.properties!.indicators!.items!, 'kind', 'atomic');
  const source = atomic.properties!.source!;
  atomic.properties!.source = {
    description: source.description,
    // One variant per connector, or per form of its parameters (http: a url, or a path).
    anyOf: connectors.flatMap((c) => {
      const params = plain(c.params);
      return (params.anyOf ?? [params]).map((form) => ({
        type: 'object',
        description: `${c.scheme}: ${c.summary}`,
        properties: { scheme: { const: c.scheme }, ...form.properties },
        required: ['scheme', ...(form.required ?? [])],
        additionalProperties: false,
      }));
    }),
  };
  const protocols = root.properties!.devices!.items!.properties!.protocols!;
  root.properties!.devices!.items!.properties!.protocols = {
    type: 'object',
    description: protocols.description,
    properties: Object.fromEntries(connectors.filter((c) => c.deviceParams).map((c) => [c.scheme, plain(c.deviceParams)])),
    // Settings for a scheme this build lacks are kept, not used.
    additionalProperties: { type: 'object' },
  };
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'probemesh probe config', ...root };
}

/** A schema's type in a few words, for the reference's tables. */
function typeOf(s: Schema): string {
  if (typeof s.title === 'string') return s.title;
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.anyOf) {
    if (s.anyOf.every((b) => b.const !== undefined)) return s.anyOf.map(typeOf).join(' \\| ');
    const key = discriminant(s);
    return key ? `object (by \`${key}\`)` : s.anyOf.map(typeOf).join(' or ');
  }
  const range = (lo?: number, hi?: number, unit = '') => (lo !== undefined && hi !== undefined ? ` (${lo}–${hi}${unit})` : lo !== undefined ? ` (≥ ${lo}${unit})` : hi !== undefined ? ` (≤ ${hi}${unit})` : '');
  switch (s.type) {
    case 'string':
      return `text${range(s.minLength && s.minLength > 1 ? s.minLength : undefined, s.maxLength, ' characters')}`;
    case 'integer':
      return `integer${range(s.minimum, s.maximum)}`;
    case 'number':
      return 'number';
    case 'boolean':
      return 'true or false';
    case 'array':
      return `list of ${typeOf(s.items!)}${range(s.minItems, s.maxItems, ' items')}`;
    case 'object':
      return s.properties ? 'object' : 'map of text to ' + typeOf((Object.values(s.patternProperties ?? {})[0] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : { type: 'value' })) as Schema);
    default:
      return s.type ?? 'value';
  }
}

/** The literal field that tells a union's objects apart (`kind`, `type`), if any. */
function discriminant(s: Schema): string | undefined {
  const [first, ...rest] = s.anyOf ?? [];
  return Object.keys(first?.properties ?? {}).find((k) => first!.properties![k]!.const !== undefined && rest.every((b) => b.properties?.[k]?.const !== undefined));
}

/** A sentence: capitalised, ending with a full stop. */
const sentence = (text: string) => `${text[0]!.toUpperCase()}${text.slice(1)}${/[.?!]$/.test(text) ? '' : '.'}`;

/** Escapes a description for a Markdown table cell. */
const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown sections of an object schema and of the objects below it, headed by their paths. */
function sections(path: string, s: Schema, out: string[]): void {
  const nested: Array<[string, Schema]> = [];
  out.push(`### ${path === TOP ? 'Top level' : `\`${path}\``}`, '');
  if (s.description) out.push(sentence(s.description), '');
  out.push('| field | type | required | description |', '|---|---|---|---|');
  for (const [name, field] of Object.entries(s.properties ?? {})) {
    const inner = field.type === 'array' ? field.items! : field;
    const objects = inner.anyOf?.every((b) => b.type === 'object') ? inner.anyOf : inner.properties ? [inner] : [];
    const at = `${path === TOP ? '' : `${path}.`}${name}${field.type === 'array' ? '[]' : ''}`;
    const see = objects.length ? `See ${objects.map((o) => `\`${label(at, inner, o)}\``).join(', ')}.` : '';
    const text = [field.description ? sentence(field.description) : '', see].filter(Boolean).join(' ');
    out.push(`| \`${name}\` | ${typeOf(field)} | ${s.required?.includes(name) ? 'yes' : ''} | ${cell(text)} |`);
    for (const o of objects) nested.push([label(at, inner, o), o]);
  }
  out.push('');
  for (const [p, o] of nested) sections(p, o, out);
}

/**
 * The heading of an object below `at`: a union's branch is named by its literal field
 * (`kind: atomic`), else by the fields only it requires (`with url`).
 */
function label(at: string, container: Schema, o: Schema): string {
  if (!container.anyOf) return at;
  const key = discriminant(container);
  if (key) return `${at} (${key}: ${String(o.properties![key]!.const)})`;
  return `${at} (with ${ownFields(container, o).join(', ')})`;
}

/** The fields `o` requires and not every branch of `union` does. */
const ownFields = (union: Schema, o: Schema) => (o.required ?? []).filter((r) => !union.anyOf!.every((b) => b.required?.includes(r)));

const TOP = '';

/** docs/CONFIG.md: every field of a probe config, from the same schemas as the JSON Schema. */
export function configReference(builtin: readonly Connector[]): string {
  const schema = configJsonSchema(builtin);
  const out = [
    '# Probe configuration reference',
    '',
    'Every field of a probe config file (YAML or JSON), generated from the schemas the probe validates',
    'with (`packages/model`, and each connector for its parameters and device settings). Editors that',
    'read JSON Schema complete and check the files through `docs/probe-config.schema.json`: the',
    'examples in `mesh-config/` start with `# yaml-language-server: $schema=…` for that.',
    'Regenerate both after a schema change: `probemesh schema --write docs` (a test fails while',
    'they differ from the schemas).',
    '',
    'Durations are a number followed by `ms`, `s`, `m`, `h`, `d` or `w` (`10s`, `15m`), or a whole',
    'number of milliseconds. Expressions are in the probemesh expression language',
    '(`packages/expr/README.md`).',
    '',
    '## The probe config',
    '',
  ];
  const source = branch(schema.properties!.indicators!.items!, 'kind', 'atomic').properties!.source!;
  const protocols = schema.properties!.devices!.items!.properties!.protocols!;
  const root = structuredClone(schema);
  // The connectors get sections of their own below.
  branch(root.properties!.indicators!.items!, 'kind', 'atomic').properties!.source = { type: 'object', description: `${source.description}: \`scheme\` and the parameters of that connector (below)` };
  root.properties!.devices!.items!.properties!.protocols = { type: 'object', description: `${protocols.description}; each scheme's settings are below` };
  root.description = 'what a config file holds, and what `probemesh flash` puts in NATS KV';
  sections(TOP, root, out);
  out.push('## Connectors', '', 'An atomic indicator names its connector in `source.scheme`, next to that connector\'s parameters; a device carries each connector\'s settings under `protocols.<scheme>`.', '');
  for (const scheme of [...new Set(source.anyOf!.map((v) => String(v.properties!.scheme!.const)))]) {
    const forms = source.anyOf!.filter((v) => v.properties!.scheme!.const === scheme).map((v) => {
      const { scheme: _scheme, ...params } = v.properties!;
      return { ...v, description: undefined, properties: params, required: v.required!.filter((r) => r !== 'scheme') } as Schema;
    });
    out.push(`## \`${scheme}\``, '', sentence(forms[0] ? String(source.anyOf!.find((v) => v.properties!.scheme!.const === scheme)!.description).slice(scheme.length + 2) : ''), '');
    for (const f of forms) sections(`indicators[].source (scheme: ${scheme}${forms.length > 1 ? `, with ${ownFields({ anyOf: forms }, f).join(', ')}` : ''})`, f, out);
    const device = protocols.properties![scheme];
    if (device) sections(`devices[].protocols.${scheme}`, device, out);
  }
  return `${out.join('\n').trimEnd()}\n`;
}
