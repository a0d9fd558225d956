import { html, nothing } from 'lit';
import { api, explain, follow, target } from '../api.js';
import { fmt, when } from '../format.js';
import { href, setParams, update, type View } from '../state.js';

/** An alert transition as the API sends it. */
export interface Alert {
  id: string;
  probe: string;
  rule: string;
  decision: string;
  indicator?: string;
  device?: string;
  value?: number | string;
  threshold?: number;
  severity: 'info' | 'warning' | 'critical';
  state: 'firing' | 'resolved';
  message: string;
  since: number;
  ts: number;
}

const s = {
  /** The newest transition of each alert (by id), from every source. */
  byId: new Map<string, Alert>(),
  error: '',
  live: false,
  liveWhy: 'connecting…',
};

/** Whether the serving probe follows other probes' alerts. */
const coordinator = () => target.selfRole === 'coordinator';

function take(list: readonly Alert[]): void {
  for (const a of list) {
    const had = s.byId.get(a.id);
    if (!had || had.ts <= a.ts) s.byId.set(a.id, a);
  }
}

/** Reads the alerts of the selected probe and, at a coordinator, of its subtree. */
export async function loadFiring(signal?: AbortSignal, all = false): Promise<void> {
  const state = all ? undefined : 'firing';
  try {
    const own = await api<Alert[]>('/alerts', { params: { state, limit: 500 }, ...(signal ? { signal } : {}) });
    if (!all) for (const [id, a] of s.byId) if (a.probe === target.probe && a.state === 'firing' && !own.some((o) => o.id === id)) s.byId.delete(id);
    take(own);
    if (coordinator()) take(await api<Alert[]>('/mesh/alerts', { local: true, params: { state }, ...(signal ? { signal } : {}) }));
    s.error = '';
  } catch (err) {
    if (!signal?.aborted) s.error = explain(err);
  }
  update();
}

/** How many alerts are firing (the selected probe's, and its subtree's at a coordinator). */
export function firingCount(): number {
  let n = 0;
  for (const a of s.byId.values()) if (a.state === 'firing') n++;
  return n;
}

let streaming: AbortController | undefined;

/** Follows the serving probe's alert stream for the whole session (the badge and the list stay live). */
export function startAlertStream(): void {
  if (streaming) return;
  streaming = new AbortController();
  void follow(
    '/alerts/stream',
    (event, data) => {
      if (event !== 'alert') return;
      try {
        take([JSON.parse(data) as Alert]);
      } catch {
        return; // not an alert: ignored, the next refresh has the truth
      }
      update();
    },
    streaming.signal,
    (live, why) => {
      s.live = live;
      s.liveWhy = why ?? '';
      update();
    },
  );
}

/** Stops following (sign out). */
export function stopAlertStream(): void {
  streaming?.abort();
  streaming = undefined;
  s.byId.clear();
}

/** Where the chart of an alert's indicator around its time is. */
function chartLink(a: Alert): string {
  const from = a.since - 30 * 60e3;
  const to = Math.min(Date.now(), Math.max(a.ts, a.since) + 30 * 60e3);
  return href('explorer', { probe: a.probe, indicator: a.indicator, device: a.device, range: 'custom', from, to });
}

const sevRank = { critical: 0, warning: 1, info: 2 } as const;

/** Alerts firing and resolved, live through SSE, with the subtree at a coordinator; filters by severity, probe, rule and state. */
export const alertsView: View = {
  title: 'Alerts',
  async enter(_p, signal) {
    await loadFiring(signal, true);
    // A coordinator hears other probes' alerts through NATS, not through this page's stream: poll them.
    const timer = setInterval(() => void loadFiring(signal, true), 3000);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  },
  render(p) {
    const f = { severity: p.get('severity') ?? '', probe: p.get('from-probe') ?? '', rule: p.get('rule') ?? '', state: p.get('state') ?? '' };
    const all = [...s.byId.values()];
    const shown = all
      .filter((a) => (!f.severity || a.severity === f.severity) && (!f.probe || a.probe === f.probe) && (!f.rule || a.rule === f.rule) && (!f.state || a.state === f.state))
      .sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) || sevRank[a.severity] - sevRank[b.severity] || b.ts - a.ts);
    const options = (key: 'probe' | 'rule') => [...new Set(all.map((a) => a[key]))].sort();
    const set = (k: string) => (e: Event) => setParams({ severity: f.severity, 'from-probe': f.probe, rule: f.rule, state: f.state, [k]: (e.target as HTMLSelectElement).value });
    const select = (id: string, key: string, label: string, values: string[], value: string) =>
      html`<label>${label} <select id=${id} @change=${set(key)}><option value="">any</option>${values.map((v) => html`<option ?selected=${v === value}>${v}</option>`)}</select></label>`;
    return html`<h1>Alerts</h1>
      <p class="hint"><span class="dot ${s.live ? 'live' : ''}"></span>${s.live ? 'live: transitions appear as they happen' : `not live: ${s.liveWhy}`}${coordinator() ? ` · ${target.self} is a coordinator: its subtree's alerts are included` : ''}</p>
      ${s.error ? html`<p class="error" role="alert">${s.error}</p>` : nothing}
      <div class="filters">
        ${select('f-severity', 'severity', 'Severity', ['critical', 'warning', 'info'], f.severity)}
        ${select('f-probe', 'from-probe', 'Probe', options('probe'), f.probe)}
        ${select('f-rule', 'rule', 'Rule', options('rule'), f.rule)}
        ${select('f-state', 'state', 'State', ['firing', 'resolved'], f.state)}
      </div>
      <div class="scroll"><table id="alerts-table" class="cards-on-phone">
        <thead><tr><th>since</th><th>state</th><th>severity</th><th>probe</th><th>rule / decision</th><th>device</th><th>value</th><th>message</th><th></th></tr></thead>
        <tbody>${shown.map(
          (a) => html`<tr data-alert=${a.id} data-probe=${a.probe} data-decision=${a.decision} data-state=${a.state}>
            <td data-label="since">${when(a.since)}</td><td class="state ${a.state}">${a.state}</td><td class="sev ${a.severity}">${a.severity}</td><td data-label="probe">${a.probe}</td>
            <td data-label="rule">${a.rule} / ${a.decision}</td><td data-label="device">${a.device ?? ''}</td><td data-label="value">${a.value === undefined ? '' : fmt(a.value)}</td><td class="message">${a.message}</td>
            <td>${a.indicator ? html`<a href=${chartLink(a)}>chart</a>` : nothing}</td></tr>`,
        )}</tbody>
      </table></div>
      ${shown.length === 0 ? html`<p class="muted">No alerts${all.length ? ' match these filters' : ''}.</p>` : nothing}`;
  },
};
