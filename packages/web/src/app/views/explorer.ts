import { html, nothing } from 'lit';
import { ref } from 'lit/directives/ref.js';
import { api, explain, target } from '../api.js';
import { BandChart } from '../chart.js';
import { fmt, when } from '../format.js';
import { fetchSeries, stepFor, stepText, toCsv, type Series } from '../series.js';
import { setParams, update, type View } from '../state.js';

const RANGES: Array<[string, number]> = [
  ['15m', 15 * 60e3],
  ['1h', 3600e3],
  ['6h', 6 * 3600e3],
  ['24h', 86400e3],
  ['7d', 7 * 86400e3],
  ['30d', 30 * 86400e3],
];

const s: { indicators: Array<{ id: string; unit?: string }>; devices: string[]; series?: Series; error: string; loading: boolean; from: number; to: number; stepMs: number; live: boolean } = {
  indicators: [],
  devices: [],
  error: '',
  loading: false,
  from: 0,
  to: 0,
  stepMs: 60e3,
  live: false,
};
const chart = new BandChart();

/** The time range a view's parameters name: a range ending now (live), or a custom one. */
function rangeOf(p: URLSearchParams): { from: number; to: number; live: boolean } {
  const r = p.get('range') ?? '1h';
  const span = RANGES.find(([k]) => k === r)?.[1];
  if (span) {
    const to = Date.now();
    return { from: to - span, to, live: true };
  }
  const from = Number(p.get('from'));
  const to = Number(p.get('to'));
  return Number.isFinite(from) && Number.isFinite(to) && to > from ? { from, to, live: false } : { from: Date.now() - 3600e3, to: Date.now(), live: true };
}

async function draw(p: URLSearchParams, signal: AbortSignal): Promise<void> {
  const indicator = p.get('indicator');
  if (!indicator) return;
  const { from, to, live } = rangeOf(p);
  Object.assign(s, { from, to, live, stepMs: stepFor(to - from) });
  s.loading = true;
  chart.waiting();
  update();
  try {
    const device = p.get('device') ?? undefined;
    const instance = p.get('instance') ?? undefined;
    s.series = await fetchSeries({ indicator, ...(device ? { device } : {}), ...(instance ? { instance } : {}), from, to, stepMs: s.stepMs }, signal);
    const arrived = performance.now();
    s.error = '';
    chart.set(s.series.buckets, arrived, [from, to]);
  } catch (err) {
    if (!signal.aborted) s.error = explain(err);
  } finally {
    s.loading = false;
    update();
  }
}

function download(p: URLSearchParams): void {
  if (!s.series) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([toCsv(s.series.buckets)], { type: 'text/csv' }));
  a.download = `${target.probe}-${p.get('indicator')}${p.get('device') ? `-${p.get('device')}` : ''}-${new Date(s.from).toISOString().slice(0, 16)}.csv`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** The choices, and the one in the URL even when it is not among them (a removed indicator's history, a probe that cannot list). */
const withCurrent = (ids: string[], cur?: string) => (cur && !ids.includes(cur) ? [...ids, cur] : ids);

const toLocal = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60e3).toISOString().slice(0, 16);

/** Chart any indicator over a range from the roll-ups (mean with a min/max band), live while the range ends now; as a table and CSV; the URL keeps the view. */
export const explorerView: View = {
  title: 'Explorer',
  async enter(p, signal) {
    try {
      const [indicators, devices] = await Promise.all([api<Array<{ id: string; unit?: string }>>('/indicators', { signal }), api<Array<{ id: string }>>('/devices', { signal })]);
      s.indicators = indicators;
      s.devices = devices.map((d) => d.id);
    } catch (err) {
      if (!signal.aborted) s.error = explain(err);
    }
    update();
    await draw(p, signal);
    if (!s.live) return;
    const timer = setInterval(() => void draw(p, signal), Math.min(60e3, Math.max(5e3, s.stepMs)));
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  },
  render(p) {
    const cur = Object.fromEntries(['indicator', 'device', 'instance', 'range', 'from', 'to'].map((k) => [k, p.get(k) ?? undefined]));
    const change = (k: string) => (e: Event) => {
      const v = (e.target as HTMLInputElement).value;
      if (k === 'range' && v === 'custom') return setParams({ ...cur, range: 'custom', from: s.from, to: s.to });
      if (k === 'from' || k === 'to') return setParams({ ...cur, [k]: new Date(v).getTime() });
      setParams({ ...cur, [k]: v });
    };
    const range = cur.range ?? (cur.from ? 'custom' : '1h');
    const unit = s.indicators.find((i) => i.id === cur.indicator)?.unit;
    const rows = s.series?.buckets ?? [];
    return html`<h1>Explorer <span class="muted">${target.probe}</span></h1>
      <form class="filters" @submit=${(e: Event) => e.preventDefault()}>
        <label>Indicator <select id="x-indicator" @change=${change('indicator')}><option value="">choose…</option>${withCurrent(s.indicators.map((i) => i.id), cur.indicator).map((id) => html`<option ?selected=${id === cur.indicator}>${id}</option>`)}</select></label>
        <label>Device <select id="x-device" @change=${change('device')}><option value="">any</option>${withCurrent(s.devices, cur.device).map((d) => html`<option ?selected=${d === cur.device}>${d}</option>`)}</select></label>
        <label>Instance <input id="x-instance" size="8" .value=${cur.instance ?? ''} @change=${change('instance')} placeholder="any"></label>
        <label>Range <select id="x-range" @change=${change('range')}>${RANGES.map(([k]) => html`<option ?selected=${k === range}>${k}</option>`)}<option ?selected=${range === 'custom'}>custom</option></select></label>
        ${range === 'custom'
          ? html`<label>From <input type="datetime-local" .value=${toLocal(s.from)} @change=${change('from')}></label><label>To <input type="datetime-local" .value=${toLocal(s.to)} @change=${change('to')}></label>`
          : nothing}
      </form>
      ${s.error ? html`<p class="error" role="alert">${s.error}</p>` : nothing}
      ${cur.indicator
        ? html`<p class="hint" id="x-status">${s.loading ? 'loading…' : `${rows.length} buckets of ${stepText(s.stepMs)}`}${s.series?.source === 'records' ? ' (from raw records: this probe has no bucketed series query)' : ''} · ${when(s.from)} → ${s.live ? 'now (live)' : when(s.to)}${unit ? ` · ${unit}` : ''}</p>
            <div class="chart" id="x-chart" ${ref(chart.attach)}></div>
            <p><button type="button" id="x-csv" @click=${() => download(p)} ?disabled=${!rows.length}>Download CSV</button></p>
            <div class="scroll table-box"><table id="x-table">
              <thead><tr><th>time</th><th>count</th><th>mean</th><th>min</th><th>max</th></tr></thead>
              <tbody>${rows.slice(-500).reverse().map((b) => html`<tr><td>${when(b.ts)}</td><td>${b.count}</td><td>${fmt(b.mean)}</td><td>${fmt(b.min)}</td><td>${fmt(b.max)}</td></tr>`)}</tbody>
            </table></div>
            ${rows.length > 500 ? html`<p class="muted">The table shows the newest 500 of ${rows.length} buckets; the CSV has them all.</p>` : nothing}`
        : html`<p class="hint">Choose an indicator to chart.</p>`}`;
  },
};
