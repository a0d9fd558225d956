import { html, nothing, type TemplateResult } from 'lit';
import { api, doc, explain, loadDoc, RequestError, session, target } from '../api.js';
import { fmt } from '../format.js';
import { checkExpr, field, idOf, loadExpr, resolve, validate, type FormCtx, type Schema } from '../form.js';
import { href, update, type View } from '../state.js';

type Kind = 'indicators' | 'devices' | 'rules';
type Entity = { id: string; [k: string]: unknown };

const schemaName: Record<Kind, string> = { indicators: 'Indicator', devices: 'Device', rules: 'Rule' };
const singular: Record<Kind, string> = { indicators: 'indicator', devices: 'device', rules: 'rule' };


const s = {
  /** The collection `list` and `draft` belong to (views share this state). */
  kind: '' as Kind | 'statics' | '',
  list: [] as Entity[],
  known: new Set<string>(),
  error: '',
  confirm: '',
  /** The entity being created or edited. */
  draft: undefined as Entity | undefined,
  original: undefined as string | undefined,
  errors: new Map<string, string>(),
  server: new Map<string, string>(),
  strict: false,
  saving: false,
  notice: '',
  tried: '' as string | TemplateResult,
  dryRun: undefined as string | undefined,
};

const admin = () => session.role === 'admin';

function schemaOf(kind: Kind): Schema {
  const d = doc;
  const named = d.components?.schemas?.[schemaName[kind]];
  const body = (d as { paths?: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: Schema }> } } }> }).paths?.[`/${kind}`]?.post?.requestBody?.content?.['application/json']?.schema;
  return named ?? body ?? {};
}

function ctx(kind: Kind): FormCtx {
  return { doc, errors: new Map([...s.errors, ...s.server]), known: s.known, readOnly: !admin(), strict: s.strict, changed: () => recheck(kind) };
}

function recheck(kind: Kind): void {
  const out = new Map<string, string>();
  if (s.draft) validate({ ...ctx(kind), errors: out }, schemaOf(kind), s.draft, '', out);
  s.errors = out;
  s.server.clear(); // the server's verdict was on the previous text
  s.tried = '';
  update();
}

async function load(kind: Kind | 'statics', p: URLSearchParams, signal: AbortSignal): Promise<void> {
  if (s.kind !== kind) Object.assign(s, { kind, list: [], draft: undefined, original: undefined });
  s.error = '';
  s.confirm = '';
  s.notice = p.get('saved') ? `Saved ${p.get('saved')}.` : '';
  try {
    await Promise.all([loadDoc(), loadExpr()]);
    const dry = Object.keys(doc.paths ?? {}).find((k) => /dry|evaluat|\/try\b/i.test(k));
    s.dryRun = dry;
    const indicators = await api<Entity[]>('/indicators', { signal });
    s.known = new Set(indicators.map((i) => i.id));
    s.list = kind === 'indicators' || kind === 'statics' ? indicators : await api<Entity[]>(`/${kind}`, { signal });
    if (kind === 'statics') return;
    const edit = p.get('edit');
    s.original = edit ?? undefined;
    s.draft = edit ? structuredClone(s.list.find((e) => e.id === edit) ?? (await api<Entity>(`/${kind}/${edit}`, { signal }))) : p.has('new') ? ({ ...(kind === 'indicators' ? { kind: p.get('new') || 'calculated' } : {}) } as Entity) : undefined;
    s.errors.clear();
    s.server.clear();
    s.strict = false;
    s.tried = '';
  } catch (err) {
    if (!signal.aborted) s.error = explain(err);
  } finally {
    update();
  }
}

async function save(kind: Kind, e: Event): Promise<void> {
  e.preventDefault();
  if (!s.draft) return;
  s.strict = true;
  recheck(kind);
  if (s.errors.size) {
    s.notice = '';
    document.getElementById(`${idOf([...s.errors.keys()][0]!)}`)?.focus();
    return;
  }
  s.saving = true;
  update();
  try {
    const id = s.draft.id;
    if (s.original) await api(`/${kind}/${s.original}`, { method: 'PUT', body: s.draft });
    else await api(`/${kind}`, { method: 'POST', body: s.draft });
    location.hash = href(kind, { saved: id });
  } catch (err) {
    s.server.clear();
    if (err instanceof RequestError) for (const i of err.issues) s.server.set(i.path === '/' ? '' : i.path, i.message);
    s.notice = '';
    s.error = explain(err);
  } finally {
    s.saving = false;
    update();
  }
}

async function remove(kind: Kind, id: string): Promise<void> {
  try {
    await api(`/${kind}/${id}`, { method: 'DELETE' });
    s.list = s.list.filter((e) => e.id !== id);
    s.notice = `Removed ${id}.`;
    s.error = '';
  } catch (err) {
    s.error = explain(err);
  }
  s.confirm = '';
  update();
}

/** One dry run's answer (`DryRunResult`): an outcome per device tried. */
interface Outcome {
  device?: string;
  value?: unknown;
  error?: string;
  alert?: { message: string; severity: string };
}

/** The dry runs of the draft: its formula, or each decision of a rule. */
function dryRuns(kind: Kind, d: Entity): Array<{ label: string; body: Record<string, unknown> }> {
  if (kind === 'indicators' && typeof d.formula === 'string') return [{ label: 'formula', body: { context: 'calculated', expr: d.formula, ...(d.id ? { indicator: d.id } : {}) } }];
  if (kind !== 'rules') return [];
  return ((d.decisions as Array<Record<string, string>> | undefined) ?? [])
    .filter((x) => typeof x.when === 'string')
    .map((x) => ({
      label: `decision ${x.id ?? ''}`,
      body: {
        context: 'decision',
        expr: x.when,
        ...(s.original ? { rule: s.original } : {}),
        decision: Object.fromEntries(['id', 'severity', 'indicator', 'message'].filter((k) => x[k]).map((k) => [k, x[k]])),
      },
    }));
}

/** Evaluates the draft's formula or decisions against current values, saving nothing (the dry-run endpoint). */
async function tryIt(kind: Kind): Promise<void> {
  if (!s.draft || !s.dryRun) return;
  s.tried = 'evaluating…';
  update();
  const parts: TemplateResult[] = [];
  for (const run of dryRuns(kind, s.draft)) {
    try {
      const r = await api<{ results: Outcome[] }>(s.dryRun, { method: 'POST', body: run.body });
      parts.push(html`<h3>${run.label}</h3>${r.results.length
        ? html`<table class="try"><thead><tr><th>device</th><th>value</th><th>would</th></tr></thead><tbody>${r.results.map(
            (o) => html`<tr><td>${o.device ?? '(rule)'}</td><td>${o.error ? html`<span class="error">${o.error}</span>` : o.value === null ? html`<span class="muted">no value yet (an input has none)</span>` : fmt(o.value)}</td><td>${o.alert ? html`<span class="sev ${o.alert.severity}">fire: ${o.alert.message}</span>` : ''}</td></tr>`,
          )}</tbody></table>`
        : html`<p class="muted">nothing to evaluate it on yet</p>`}`);
    } catch (err) {
      parts.push(html`<h3>${run.label}</h3><p class="error">${explain(err)}</p>`);
    }
  }
  s.tried = html`<div id="try-result" class="result">${parts}</div>`;
  update();
}

function summary(kind: Kind, e: Entity): string {
  if (kind === 'indicators') {
    const src = e.source as { scheme?: string } | undefined;
    return e.kind === 'atomic' ? `${src?.scheme ?? ''} source` : e.kind === 'calculated' ? String(e.formula) : `= ${fmt(e.value)}`;
  }
  if (kind === 'devices') return `${e.address}${e.protocols ? ` · ${Object.keys(e.protocols as object).join(', ')}` : ''}`;
  const d = (e.decisions as Array<{ id: string; when: string }> | undefined) ?? [];
  return `every ${e.period} · ${(e.indicators as string[]).join(', ')}${d.length ? ` · ${d.map((x) => `${x.id}: ${x.when}`).join('; ')}` : ''}`;
}

function listView(kind: Kind): TemplateResult {
  return html`${admin() ? html`<p class="actions">${kind === 'indicators'
      ? html`<a class="button" href=${href(kind, { new: 'calculated' })} id="new-calculated">New calculated</a> <a class="button" href=${href(kind, { new: 'atomic' })}>New atomic</a>`
      : html`<a class="button" href=${href(kind, { new: '1' })} id="new-${singular[kind]}">New ${singular[kind]}</a>`}</p>` : html`<p class="hint">Your token may only read: nothing here can be changed.</p>`}
    <div class="scroll"><table id="entity-table"><thead><tr><th>id</th>${kind === 'indicators' ? html`<th>kind</th>` : nothing}<th>what</th><th></th></tr></thead>
      <tbody>${s.list.map(
        (e) => html`<tr data-id=${e.id}><td><a href=${href(kind, { edit: e.id })}>${e.id}</a>${e.name ? html`<br><span class="muted">${e.name}</span>` : nothing}</td>
          ${kind === 'indicators' ? html`<td>${e.kind}</td>` : nothing}<td class="code">${summary(kind, e)}</td>
          <td class="row-actions">${admin()
            ? s.confirm === e.id
              ? html`Delete ${e.id}? <button class="danger" @click=${() => remove(kind, e.id)}>Yes, delete</button> <button @click=${() => ((s.confirm = ''), update())}>Keep</button>`
              : html`<a href=${href(kind, { edit: e.id })}>Edit</a> <button class="link" @click=${() => ((s.confirm = e.id), update())}>Delete</button>`
            : html`<a href=${href(kind, { edit: e.id })}>View</a>`}</td></tr>`,
      )}</tbody></table></div>`;
}

function editor(kind: Kind): TemplateResult {
  const c = ctx(kind);
  const schema = resolve(c, schemaOf(kind));
  const exprs = [
    ...(typeof s.draft?.formula === 'string' ? [['formula', s.draft.formula]] : []),
    ...(((s.draft?.decisions as Array<{ when?: string }>) ?? []).filter((d) => typeof d.when === 'string').map((d) => ['when', d.when!])),
  ];
  const exprOk = exprs.length > 0 && exprs.every(([k, src]) => !checkExpr(src!, k!, s.known));
  return html`<form class="entity" id="entity-form" @submit=${(e: Event) => save(kind, e)} novalidate>
    <h2>${s.original ? (admin() ? `Edit ${singular[kind]} ${s.original}` : `${singular[kind]} ${s.original}`) : `New ${singular[kind]}`}</h2>
    ${field(c, schema, s.draft, (v) => (s.draft = v as Entity), '', singular[kind], true)}
    ${s.server.get('') ? html`<p class="error">${s.server.get('')}</p>` : nothing}
    ${admin()
      ? html`<p class="actions">
          <button type="submit" id="save" ?disabled=${s.saving}>${s.saving ? 'Saving…' : 'Save'}</button>
          ${exprs.length ? html`<button type="button" id="try" ?disabled=${!exprOk || !s.dryRun} title=${s.dryRun ? 'evaluate against current values without saving' : 'this probe has no dry-run endpoint'} @click=${() => tryIt(kind)}>Try it</button>` : nothing}
          <a href=${href(kind)}>Cancel</a></p>`
      : html`<p><a href=${href(kind)}>Back</a></p>`}
    ${s.tried}
  </form>`;
}

function statics(): TemplateResult {
  const list = s.list.filter((e) => e.kind === 'static');
  const set = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const id = String(f.get('id') ?? '').trim();
    const raw = String(f.get('value') ?? '').trim();
    const value = raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    try {
      await api(`/statics/${encodeURIComponent(id)}`, { method: 'PUT', body: { value } });
      s.notice = `Set ${id} = ${raw}.`;
      s.error = '';
      s.list = await api<Entity[]>('/indicators');
    } catch (err) {
      s.error = explain(err);
    }
    update();
  };
  const editor = (id?: string, value?: unknown) =>
    html`<form class="inline" @submit=${set}>${id ? html`<input type="hidden" name="id" .value=${id}>` : html`<label>id <input name="id" required size="12"></label>`}<label>value <input name="value" .value=${value === undefined ? '' : String(value)} size="10"></label><button type="submit">Set</button></form>`;
  return html`<p class="hint">Values an administrator sets (floor area, rack count, rated UPS power), used by formulas.</p>
    <div class="scroll"><table id="statics-table"><thead><tr><th>id</th><th>value</th>${admin() ? html`<th>set</th>` : nothing}</tr></thead>
    <tbody>${list.map((e) => html`<tr data-id=${e.id}><td>${e.id}${e.name ? html`<br><span class="muted">${e.name}</span>` : nothing}</td><td>${fmt(e.value, e.unit as string | undefined)}</td>${admin() ? html`<td>${editor(e.id, e.value)}</td>` : nothing}</tr>`)}</tbody></table></div>
    ${admin() ? html`<h2>New static</h2>${editor()}` : nothing}`;
}

function entityView(kind: Kind | 'statics', title: string): View {
  return {
    title,
    enter: (p, signal) => load(kind, p, signal),
    render: () => html`<h1>${title} <span class="muted">${target.probe}</span></h1>
      ${s.notice ? html`<p class="notice" role="status">${s.notice}</p>` : nothing}
      ${s.error ? html`<p class="error" role="alert">${s.error}</p>` : nothing}
      ${s.kind !== kind ? nothing : kind === 'statics' ? statics() : s.draft ? editor(kind) : listView(kind)}`,
  };
}

/** Indicators, devices, rules and statics: list, create, edit, delete, with forms drawn from /openapi.json. */
export const entityViews: Record<string, View> = {
  indicators: entityView('indicators', 'Indicators'),
  devices: entityView('devices', 'Devices'),
  rules: entityView('rules', 'Rules'),
  statics: entityView('statics', 'Statics'),
};
