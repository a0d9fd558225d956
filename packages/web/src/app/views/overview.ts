import { html, nothing } from 'lit';
import { api, explain, target } from '../api.js';
import { sparkline } from '../chart.js';
import { ago, fmt } from '../format.js';
import { fetchSeries, stepFor, type Bucket } from '../series.js';
import { href, update, type View } from '../state.js';
import { firingCount, loadFiring } from './alerts.js';

const KEY = 'probemesh.headline';
const DEFAULT = 'pue, dcie, cade, it_power';

interface Card {
  id: string;
  name?: string;
  unit?: string;
  value?: unknown;
  ts?: number;
  hour: Bucket[];
  day: Bucket[];
}

const s: { cards: Card[]; error: string; editing: boolean; counts?: Record<string, number>; signal?: AbortSignal } = { cards: [], error: '', editing: false };

const headline = () => (localStorage.getItem(KEY) ?? DEFAULT).split(/[\s,]+/).filter(Boolean);

async function refresh(signal: AbortSignal): Promise<void> {
  try {
    // The serving probe's /info came with sign-in; another probe's (or a later refresh's) is asked for.
    const [indicators, info] = await Promise.all([
      api<Array<{ id: string; name?: string; unit?: string }>>('/indicators', { signal }),
      target.info && target.probe === target.self && !s.counts ? target.info : api<{ counts: Record<string, number> }>('/info', { signal }),
    ]);
    s.counts = info.counts;
    const byId = new Map(indicators.map((i) => [i.id, i]));
    const now = Date.now();
    s.cards = await Promise.all(
      headline()
        .filter((id) => byId.has(id))
        .map(async (id): Promise<Card> => {
          const def = byId.get(id)!;
          const [last, hour, day] = await Promise.all([
            api<{ records: Array<{ datum: unknown; ts: number }> }>('/query', { params: { indicator: id, last: 1 }, signal }),
            fetchSeries({ indicator: id, from: now - 3600e3, to: now, stepMs: stepFor(3600e3, 360) }, signal),
            fetchSeries({ indicator: id, from: now - 86400e3, to: now, stepMs: stepFor(86400e3, 288) }, signal),
          ]);
          const r = last.records[0];
          return { id, ...(def.name ? { name: def.name } : {}), ...(def.unit ? { unit: def.unit } : {}), value: r?.datum, ...(r ? { ts: r.ts } : {}), hour: hour.buckets, day: day.buckets };
        }),
    );
    s.error = '';
  } catch (err) {
    if (!signal.aborted) s.error = explain(err);
  }
  update();
}

function saveHeadline(e: Event): void {
  e.preventDefault();
  const v = String(new FormData(e.target as HTMLFormElement).get('headline') ?? '').trim();
  if (v) localStorage.setItem(KEY, v);
  else localStorage.removeItem(KEY);
  s.editing = false;
  if (s.signal) void refresh(s.signal);
}

/** The headline indicators as large numbers with their last hour and day, and the count of firing alerts. */
export const overviewView: View = {
  title: 'Overview',
  async enter(_p, signal) {
    s.signal = signal;
    void loadFiring(signal);
    await refresh(signal);
    const timer = setInterval(() => void refresh(signal), 10_000);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  },
  render() {
    const firing = firingCount();
    return html`<h1>Overview <span class="muted">${target.probe}</span></h1>
      ${s.error ? html`<p class="error" role="alert">${s.error}</p>` : nothing}
      <div class="cards">
        <a class="card alerts ${firing ? 'firing' : ''}" href=${href('alerts')} id="firing-count">
          <span class="label">Firing alerts</span><span class="big">${firing}</span><span class="muted">${firing ? 'open the list' : 'all quiet'}</span>
        </a>
        ${s.cards.map(
          (c) => html`<a class="card" data-indicator=${c.id} href=${href('explorer', { indicator: c.id, range: '24h' })}>
            <span class="label">${c.name ?? c.id}</span>
            <span class="big">${fmt(c.value)}${c.unit ? html` <small>${c.unit}</small>` : nothing}</span>
            <span class="muted">${c.ts ? ago(c.ts) : 'no value yet'}</span>
            <span class="sparks"><span>hour ${sparkline(c.hour, `${c.id}, last hour`)}</span><span>day ${sparkline(c.day, `${c.id}, last day`)}</span></span>
          </a>`,
        )}
      </div>
      ${s.cards.length === 0 && !s.error ? html`<p class="hint">None of the headline indicators (${headline().join(', ')}) exists on this probe. Choose others below.</p>` : nothing}
      ${s.counts ? html`<p class="muted">${s.counts.indicators} indicators · ${s.counts.devices} devices · ${s.counts.rules} rules · ${fmt(s.counts.series)} series · ${fmt(s.counts.values)} values</p>` : nothing}
      ${s.editing
        ? html`<form class="inline" @submit=${saveHeadline}><label for="headline">Headline indicators (ids, in order)</label><input id="headline" name="headline" .value=${headline().join(', ')}><button type="submit">Save</button></form>`
        : html`<button class="link" @click=${() => ((s.editing = true), update())}>Choose the headline indicators</button>`}`;
  },
};
