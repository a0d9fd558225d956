import { html, nothing, type TemplateResult } from 'lit';
import { live } from 'lit/directives/live.js';
import type { Context } from '@probemesh/expr';

/** A JSON Schema node as /openapi.json publishes it. */
export type Schema = { [k: string]: any };

/** What a form needs besides its value: the OpenAPI document, errors by JSON pointer, known indicators. */
export interface FormCtx {
  doc: { components?: { schemas?: Record<string, Schema> } };
  /** Errors by JSON pointer: the client's checks, then the server's issues. */
  errors: Map<string, string>;
  /** Indicator ids, for checking expressions as they are typed. */
  known: ReadonlySet<string>;
  readOnly: boolean;
  /** Whether empty required fields are reported yet (after a first save attempt). */
  strict: boolean;
  changed(): void;
}

const EXPR = 'an expression in the probemesh expression language';
/** Whether a schema is the model's `Expr` (its title survives a field's own description). */
const isExprSchema = (s: Schema) => s.type === 'string' && (s.title === 'expression' || s.description === EXPR);
const contexts: Record<string, Context> = { formula: 'calculated', when: 'decision', filter: 'filter', transform: 'transform' };

/** Follows `$ref`s to the component they name. */
export function resolve(ctx: FormCtx, s: Schema | undefined): Schema {
  for (let i = 0; s?.$ref && i < 16; i++) s = ctx.doc.components?.schemas?.[String(s.$ref).split('/').pop()!];
  return s ?? {};
}

/** The connector schemas published beside the model's: `<prefix><scheme>`. */
export function connectorSchemas(ctx: FormCtx, prefix: 'Source_' | 'DeviceSettings_'): Array<[string, Schema]> {
  return Object.entries(ctx.doc.components?.schemas ?? {})
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, v]) => [k.slice(prefix.length), v]);
}

const branches = (ctx: FormCtx, s: Schema): Schema[] => ((s.anyOf ?? s.oneOf ?? []) as Schema[]).map((b) => resolve(ctx, b));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const typesOf = (ctx: FormCtx, s: Schema): Set<string> => new Set(branches(ctx, s).length ? branches(ctx, s).flatMap((b) => [...typesOf(ctx, b)]) : s.type ? [s.type] : []);

/** The discriminating property of a union of objects (`kind`, `type`, `scheme` …), if each branch fixes one. */
function discriminator(ctx: FormCtx, bs: Schema[]): string | undefined {
  if (!bs.length || !bs.every((b) => b.properties)) return undefined;
  return Object.keys(bs[0]!.properties).find((k) => bs.every((b) => resolve(ctx, b.properties[k]).const !== undefined));
}

/** The branch of a union a value belongs to. */
function branchOf(ctx: FormCtx, bs: Schema[], value: unknown): number {
  const d = discriminator(ctx, bs);
  if (d && isObject(value)) return Math.max(0, bs.findIndex((b) => resolve(ctx, b.properties[d]).const === value[d]));
  if (isObject(value)) {
    const i = bs.findIndex((b) => (b.required ?? []).every((k: string) => k in value) && Object.keys(value).every((k) => k in (b.properties ?? {})));
    if (i >= 0) return i;
  }
  return 0;
}

let expr: typeof import('@probemesh/expr') | undefined;

/** Loads the expression language (its own chunk: the first view does not need it). */
export async function loadExpr(): Promise<void> {
  expr ??= await import('@probemesh/expr');
}

/** Checks one expression as the probe will: same messages, same line:column (once `loadExpr` has resolved). */
export function checkExpr(src: string, key: string, known: ReadonlySet<string>): string | undefined {
  if (!expr) return undefined;
  try {
    expr.compile(src, { context: contexts[key] ?? 'calculated', known: (id) => known.has(id) });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Checks a value against its schema as far as a form can tell; fills `out` with messages by pointer. */
export function validate(ctx: FormCtx, s0: Schema, v: unknown, ptr: string, out: Map<string, string>, key = ''): void {
  const s = resolve(ctx, s0);
  if (v === undefined) return;
  const bs = branches(ctx, s);
  if (bs.length) {
    if (bs.every((b) => b.properties)) return validate(ctx, bs[branchOf(ctx, bs, v)]!, v, ptr, out, key);
    const types = typesOf(ctx, s);
    const ok = bs.some((b) => b.const === v || (b.const === undefined && matchesType(b, v) && !primitiveError(b, v)));
    if (!ok) out.set(ptr, bs.every((b) => b.const !== undefined) ? `choose one of ${bs.map((b) => b.const).join(', ')}` : primitiveError(bs.find((b) => matchesType(b, v)) ?? {}, v) ?? `expected ${[...types].join(' or ')}`);
    return;
  }
  if (s.type === 'object' && isObject(v)) {
    for (const [k, ps] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
      if (v[k] === undefined || v[k] === '') {
        if (ctx.strict && (s.required ?? []).includes(k) && resolve(ctx, ps).const === undefined) out.set(`${ptr}/${k}`, 'required');
      } else validate(ctx, ps, v[k], `${ptr}/${k}`, out, k);
    }
    return;
  }
  if (s.type === 'array' && Array.isArray(v)) {
    if (s.minItems && v.length < s.minItems) out.set(ptr, `at least ${s.minItems}`);
    v.forEach((item, i) => validate(ctx, s.items ?? {}, item, `${ptr}/${i}`, out, key));
    return;
  }
  const e = primitiveError(s, v);
  if (e) out.set(ptr, e);
  else if (isExprSchema(s) && typeof v === 'string') {
    const m = checkExpr(v, key, ctx.known);
    if (m) out.set(ptr, m);
  }
}

function matchesType(s: Schema, v: unknown): boolean {
  if (s.type === 'integer') return Number.isInteger(v);
  if (s.type === 'number') return typeof v === 'number';
  if (s.type === 'string') return typeof v === 'string';
  if (s.type === 'boolean') return typeof v === 'boolean';
  return true;
}

function primitiveError(s: Schema, v: unknown): string | undefined {
  if (!matchesType(s, v)) return `expected ${s.type === 'integer' ? 'a whole number' : `a ${s.type}`}`;
  if (typeof v === 'string') {
    if (s.minLength && v.length < s.minLength) return 'required';
    if (s.maxLength && v.length > s.maxLength) return `at most ${s.maxLength} characters`;
    // Patterns come from our own schemas, written for RE2-like engines: safe to run here.
    if (s.pattern && !new RegExp(s.pattern, 'u').test(v)) return s.description ? `expected ${s.description}` : `does not match ${s.pattern}`;
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) return `at least ${s.minimum}`;
    if (s.maximum !== undefined && v > s.maximum) return `at most ${s.maximum}`;
  }
  return undefined;
}

/** A pointer as an element id. */
export const idOf = (ptr: string) => `f${ptr.replace(/[^A-Za-z0-9_-]/g, '-')}`;

function message(ctx: FormCtx, ptr: string): TemplateResult | typeof nothing {
  const m = ctx.errors.get(ptr);
  return m ? html`<span class="field-error" id="${idOf(ptr)}-error" role="alert">${m}</span>` : nothing;
}

/** A caret under the column an expression error names. */
function caret(ctx: FormCtx, ptr: string, src: unknown): TemplateResult | typeof nothing {
  const m = /at (\d+):(\d+)$/.exec(ctx.errors.get(ptr) ?? '');
  if (!m || typeof src !== 'string') return nothing;
  const line = src.split('\n')[Number(m[1]) - 1] ?? '';
  return html`<pre class="caret" aria-hidden="true">${line}\n${' '.repeat(Math.max(0, Number(m[2]) - 1))}^</pre>`;
}

/** Text typed into a field that takes a number or text (a Datum, a Duration). */
function coerce(text: string, types: Set<string>): unknown {
  if (text === '') return undefined;
  if ((types.has('number') || types.has('integer')) && /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text) && !(types.has('string') && types.has('integer') && !types.has('number') && !/^[0-9]+$/.test(text))) return Number(text);
  if (types.has('boolean') && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

const lines = (v: unknown) => (isObject(v) ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join('\n') : '');
const fromLines = (t: string) => {
  const o: Record<string, string> = {};
  for (const l of t.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) o[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return Object.keys(o).length ? o : undefined;
};

/**
 * One field for a value of schema `s0`, drawn from the schema alone: objects as fieldsets,
 * unions told apart by a fixed property as a choice, arrays of objects as lists, expressions checked as typed.
 */
export function field(ctx: FormCtx, s0: Schema, value: unknown, set: (v: unknown) => void, ptr: string, label: string, required = false): TemplateResult {
  const s = resolve(ctx, s0);
  const id = idOf(ptr);
  const desc = s.description && s.description !== EXPR ? html`<span class="hint">${s.description}</span>` : nothing;
  const err = ctx.errors.has(ptr);
  const aria = { invalid: err ? 'true' : 'false', describedby: err ? `${id}-error` : '' };
  const lab = html`<label for=${id}>${label}${required ? html`<span class="req" title="required">*</span>` : nothing}</label>`;
  const key = ptr.split('/').pop() ?? '';
  const bs = branches(ctx, s);

  if (s.const !== undefined) return html``;
  if (bs.length && bs.every((b) => b.properties)) {
    const d = discriminator(ctx, bs);
    const i = branchOf(ctx, bs, value);
    const names = bs.map((b, j) => (d ? String(resolve(ctx, b.properties[d]).const) : (b.required ?? []).join(' + ') || `form ${j + 1}`));
    const choose = (e: Event) => {
      const j = Number((e.target as HTMLSelectElement).value);
      const base = isObject(value) ? { ...value } : {};
      if (d) base[d] = resolve(ctx, bs[j]!.properties[d]).const;
      for (const k of Object.keys(base)) if (!(k in bs[j]!.properties)) delete base[k];
      set(base);
      ctx.changed();
    };
    const cur = isObject(value) ? value : {};
    return html`<div class="union">
      <div class="field">${html`<label for=${id}-as>${label}: ${d ?? 'form'}</label>`}<select id="${id}-as" ?disabled=${ctx.readOnly} @change=${choose}>${names.map((n, j) => html`<option value=${j} ?selected=${j === i}>${n}</option>`)}</select></div>
      ${object(ctx, bs[i]!, cur, (v) => set(d ? { ...(v as object), [d]: resolve(ctx, bs[i]!.properties[d]).const } : v), ptr)}
    </div>`;
  }
  if (bs.length && bs.every((b) => b.const !== undefined)) {
    return html`<div class="field">${lab}<select id=${id} ?disabled=${ctx.readOnly} aria-invalid=${aria.invalid} @change=${(e: Event) => (set((e.target as HTMLSelectElement).value || undefined), ctx.changed())}>
        ${required ? nothing : html`<option value="">(default)</option>`}${bs.map((b) => html`<option ?selected=${b.const === value}>${b.const}</option>`)}
      </select>${desc}${message(ctx, ptr)}</div>`;
  }
  const types = typesOf(ctx, s);
  if (s.type === 'object' && s.properties && s.additionalProperties === true && s.properties.scheme) return source(ctx, value, set, ptr, label);
  if (s.type === 'object' && s.properties) return html`<fieldset><legend>${label}</legend>${object(ctx, s, isObject(value) ? value : {}, set, ptr)}</fieldset>`;
  if (s.type === 'object') {
    const values = Object.values((s.patternProperties ?? {}) as Record<string, Schema>)[0] ?? (isObject(s.additionalProperties) ? s.additionalProperties : undefined);
    if (key === 'protocols') return protocols(ctx, value, set, ptr, label);
    if (values && resolve(ctx, values).type === 'string')
      return html`<div class="field">${lab}<textarea id=${id} rows="2" placeholder="key=value, one per line" ?readonly=${ctx.readOnly} .value=${live(lines(value))} @change=${(e: Event) => (set(fromLines((e.target as HTMLTextAreaElement).value)), ctx.changed())}></textarea>${desc}${message(ctx, ptr)}</div>`;
    return json(ctx, value, set, ptr, lab, desc);
  }
  if (s.type === 'array') {
    const items = resolve(ctx, s.items);
    const list = Array.isArray(value) ? value : [];
    if (items.type === 'object') {
      const put = (i: number) => (v: unknown) => {
        const next = [...list];
        next[i] = v;
        set(next);
      };
      return html`<fieldset class="list"><legend>${label}</legend>
        ${list.map((item, i) => html`<div class="item">${object(ctx, items, isObject(item) ? item : {}, put(i), `${ptr}/${i}`)}${ctx.readOnly ? nothing : html`<button type="button" class="link" @click=${() => (set(list.filter((_, j) => j !== i)), ctx.changed())}>Remove ${label.replace(/s$/, '')} ${i + 1}</button>`}</div>`)}
        ${ctx.readOnly ? nothing : html`<button type="button" id="${id}-add" @click=${() => (set([...list, {}]), ctx.changed())}>Add ${label.replace(/s$/, '')}</button>`}
        ${message(ctx, ptr)}</fieldset>`;
    }
    if (items.type === 'string')
      return html`<div class="field">${lab}<input id=${id} ?readonly=${ctx.readOnly} aria-invalid=${aria.invalid} aria-describedby=${aria.describedby} placeholder="comma separated" .value=${live(list.join(', '))} @input=${(e: Event) => {
        const parts = (e.target as HTMLInputElement).value.split(',').map((x) => x.trim()).filter(Boolean);
        set(parts.length ? parts : undefined);
        ctx.changed();
      }}>${desc}${message(ctx, ptr)}${list.flatMap((_, i) => (ctx.errors.has(`${ptr}/${i}`) ? [html`<span class="field-error">${list[i]}: ${ctx.errors.get(`${ptr}/${i}`)}</span>`] : []))}</div>`;
    return json(ctx, value, set, ptr, lab, desc);
  }
  if (bs.length && !types.size) return json(ctx, value, set, ptr, lab, desc);
  if (bs.length && bs.some((b) => b.type === 'object' || b.type === 'array')) return json(ctx, value, set, ptr, lab, desc);
  if (s.type === 'boolean')
    return html`<div class="field">${lab}<select id=${id} ?disabled=${ctx.readOnly} @change=${(e: Event) => {
      const v = (e.target as HTMLSelectElement).value;
      set(v === '' ? undefined : v === 'yes');
      ctx.changed();
    }}><option value="">(default)</option><option ?selected=${value === true}>yes</option><option ?selected=${value === false}>no</option></select>${desc}</div>`;
  const isExpr = isExprSchema(s);
  const text = value === undefined || value === null ? '' : String(value);
  const onInput = (e: Event) => {
    set(coerce((e.target as HTMLInputElement).value, types));
    ctx.changed();
  };
  const input = isExpr || (s.maxLength ?? 0) > 1000
    ? html`<textarea id=${id} class=${isExpr ? 'code' : ''} rows=${isExpr ? 2 : 3} spellcheck="false" ?readonly=${ctx.readOnly} aria-invalid=${aria.invalid} aria-describedby=${aria.describedby} .value=${live(text)} @input=${onInput}></textarea>`
    : html`<input id=${id} ?readonly=${ctx.readOnly} aria-invalid=${aria.invalid} aria-describedby=${aria.describedby} inputmode=${types.size === 1 && (types.has('number') || types.has('integer')) ? 'decimal' : 'text'} .value=${live(text)} @input=${onInput}>`;
  return html`<div class="field">${lab}${input}${isExpr && s.description === EXPR ? html`<span class="hint">an expression${contexts[key] ? ` (${contexts[key]})` : ''}</span>` : desc}${message(ctx, ptr)}${caret(ctx, ptr, value)}</div>`;
}

/** The fields of an object schema. */
function object(ctx: FormCtx, s: Schema, value: Record<string, unknown>, set: (v: unknown) => void, ptr: string): TemplateResult {
  const required = new Set<string>(s.required ?? []);
  return html`${Object.entries((s.properties ?? {}) as Record<string, Schema>).map(([k, ps]) =>
    field(ctx, ps, value[k], (v) => {
      const next = { ...value };
      if (v === undefined) delete next[k];
      else next[k] = v;
      set(next);
    }, `${ptr}/${k}`, k, required.has(k)),
  )}`;
}

/** A connector source: the scheme, then that connector's own parameters. */
function source(ctx: FormCtx, value: unknown, set: (v: unknown) => void, ptr: string, label: string): TemplateResult {
  const schemes = connectorSchemas(ctx, 'Source_');
  const cur = isObject(value) ? value : {};
  const scheme = String(cur.scheme ?? '');
  const params = schemes.find(([k]) => k === scheme)?.[1];
  const { scheme: _drop, ...rest } = cur;
  return html`<fieldset><legend>${label}</legend>
    <div class="field"><label for="${idOf(ptr)}-scheme">scheme<span class="req">*</span></label>
      <select id="${idOf(ptr)}-scheme" ?disabled=${ctx.readOnly} @change=${(e: Event) => (set({ scheme: (e.target as HTMLSelectElement).value }), ctx.changed())}>
        <option value="">choose a connector…</option>${schemes.map(([k]) => html`<option ?selected=${k === scheme}>${k}</option>`)}
      </select>${message(ctx, `${ptr}/scheme`)}</div>
    ${params ? field(ctx, params, rest, (v) => set({ scheme, ...(isObject(v) ? v : {}) }), ptr, `${scheme} parameters`) : nothing}
  </fieldset>`;
}

/** A device's settings per connector: each scheme with a device schema can be switched on and filled in. */
function protocols(ctx: FormCtx, value: unknown, set: (v: unknown) => void, ptr: string, label: string): TemplateResult {
  const cur = isObject(value) ? value : {};
  const put = (k: string, v: unknown) => {
    const next = { ...cur };
    if (v === undefined) delete next[k];
    else next[k] = v;
    set(Object.keys(next).length ? next : undefined);
    ctx.changed();
  };
  return html`<fieldset><legend>${label}</legend>
    ${connectorSchemas(ctx, 'DeviceSettings_').map(([k, sch]) => html`<div class="proto">
      <label><input type="checkbox" id="${idOf(`${ptr}/${k}`)}-on" ?disabled=${ctx.readOnly} .checked=${live(k in cur)} @change=${(e: Event) => put(k, (e.target as HTMLInputElement).checked ? {} : undefined)}> ${k}</label>
      ${k in cur ? field(ctx, sch, cur[k], (v) => put(k, v ?? {}), `${ptr}/${k}`, `${k} settings`) : nothing}
    </div>`)}
  </fieldset>`;
}

/** Anything the form cannot draw as fields: JSON, checked when it parses. */
function json(ctx: FormCtx, value: unknown, set: (v: unknown) => void, ptr: string, lab: TemplateResult, desc: unknown): TemplateResult {
  const id = idOf(ptr);
  return html`<div class="field">${lab}<textarea id=${id} class="code" rows="3" spellcheck="false" placeholder="JSON" ?readonly=${ctx.readOnly} .value=${live(value === undefined ? '' : JSON.stringify(value, null, 1))} @change=${(e: Event) => {
    const t = (e.target as HTMLTextAreaElement).value.trim();
    try {
      set(t ? JSON.parse(t) : undefined);
      ctx.errors.delete(ptr);
    } catch (err) {
      ctx.errors.set(ptr, `not JSON: ${(err as Error).message}`);
    }
    ctx.changed();
  }}></textarea>${desc}${message(ctx, ptr)}</div>`;
}
