import { html, nothing, type TemplateResult } from 'lit';
import { api, explain, RequestError, target } from '../api.js';
import { ago, fmt } from '../format.js';
import { href, update, type View } from '../state.js';

/** A probe as heard in its heartbeats (GET /mesh). */
interface Member {
  probe: string;
  role: string;
  parent?: string;
  level: number;
  version?: string;
  lastSeen?: number;
  ts?: number;
  stale?: boolean;
  rules?: Array<{ rule: string; status: string; lastError?: string }>;
  load?: { rssMiB: number; valuesPerS: number; series: number };
}

const s: { members: Member[]; error: string; alone: boolean; at: number } = { members: [], error: '', alone: false, at: 0 };

async function refresh(signal: AbortSignal): Promise<void> {
  try {
    if (target.selfRole === 'standalone') throw new RequestError(404, 'not-found', 'not in a mesh');
    s.members = await api<Member[]>('/mesh', { local: true, signal });
    s.alone = false;
    s.error = '';
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof RequestError && err.status === 404) {
      // Not in a mesh: the probe serving the page is the whole tree.
      const info = await api<{ id: string; role: string; parent?: string; version: string }>('/info', { local: true, signal });
      const states = await api<Member['rules']>('/rules/states', { local: true, signal });
      s.members = [{ probe: info.id, role: info.role, level: 0, version: info.version, lastSeen: Date.now(), ...(states ? { rules: states } : {}) }];
      s.alone = true;
      s.error = '';
    } else s.error = explain(err);
  }
  s.at = Date.now();
  update();
}

function ruleSummary(rules: Member['rules'] = []): TemplateResult {
  const by = new Map<string, number>();
  for (const r of rules) by.set(r.status, (by.get(r.status) ?? 0) + 1);
  if (!rules.length) return html`<span class="muted">no rules</span>`;
  const failing = rules.filter((r) => r.status === 'failed' || r.status === 'backing-off');
  return html`${[...by].map(([st, n]) => html`<span class="state ${st}">${n} ${st}</span> `)}${failing.length ? html`<span class="error" title=${failing.map((r) => `${r.rule}: ${r.lastError ?? ''}`).join('\n')}>(${failing.map((r) => r.rule).join(', ')})</span>` : nothing}`;
}

function node(m: Member, children: Map<string | undefined, Member[]>, depth: number): TemplateResult {
  const kids = children.get(m.probe) ?? [];
  const selected = m.probe === target.probe;
  return html`<li data-probe=${m.probe} data-parent=${m.parent ?? ''} class=${m.stale ? 'stale' : ''}>
    <a class="node ${selected ? 'selected' : ''}" href=${href('mesh', { probe: m.probe })} aria-current=${selected ? 'true' : 'false'} aria-label="select probe ${m.probe}">
      <span class="name">${m.probe}</span>
      <span class="tag">${m.role}</span>
      <span class="muted">level ${m.level}${m.parent ? html` · parent ${m.parent}` : nothing}</span>
      ${m.stale ? html`<span class="tag warn" title="no heartbeat for three periods">stale</span>` : nothing}
      <span class="muted">seen ${ago(m.lastSeen ?? m.ts, s.at)}</span>
      <span class="rules">${ruleSummary(m.rules)}</span>
      ${m.load ? html`<span class="muted">${fmt(m.load.rssMiB)} MiB · ${fmt(m.load.valuesPerS)} values/s · ${fmt(m.load.series)} series</span>` : nothing}
    </a>
    ${kids.length && depth < 32 ? html`<ul>${kids.map((k) => node(k, children, depth + 1))}</ul>` : nothing}
  </li>`;
}

/** The mesh as a tree: probes, roles, levels, parents, last seen, stale ones marked, rule states, load; selecting one points every view at it. */
export const meshView: View = {
  title: 'Mesh',
  async enter(_p, signal) {
    await refresh(signal);
    const timer = setInterval(() => void refresh(signal), 5000);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  },
  render() {
    const known = new Set(s.members.map((m) => m.probe));
    const children = new Map<string | undefined, Member[]>();
    // A probe whose parent is not heard (yet) is drawn as a root, so nobody disappears.
    for (const m of s.members) {
      const p = m.parent && known.has(m.parent) && m.parent !== m.probe ? m.parent : undefined;
      children.set(p, [...(children.get(p) ?? []), m]);
    }
    const roots = children.get(undefined) ?? [];
    return html`<h1>Mesh</h1>
      <p class="hint">${s.alone ? 'This probe is not in a mesh.' : `${s.members.length} probes heard by ${target.self}.`} Select a probe: every view then acts on it through this one (<code>?probe=</code>).</p>
      ${s.error ? html`<p class="error" role="alert">${s.error}</p>` : nothing}
      <ul class="tree" id="mesh-tree">${roots.map((m) => node(m, children, 0))}</ul>`;
  },
};
