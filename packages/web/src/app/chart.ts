/// <reference lib="dom" />
import type uPlot from 'uplot';
import { html, svg, type TemplateResult } from 'lit';
import type { Bucket } from './series.js';

const BLUE = '#1565c0';

/**
 * A uPlot chart of buckets: the mean as a line, min and max as a band. `set` draws new data and
 * records on the element how long it took from the response to the drawn frame (`data-render-ms`).
 */
export class BandChart {
  private plot?: uPlot;
  private el?: HTMLElement;
  private observer?: ResizeObserver;
  private since = 0;
  private pending?: [readonly Bucket[], number, [number, number]?];
  /** The time range drawn (seconds), whatever the data covers. */
  private range?: [number, number];

  /** Attaches to the element lit rendered (a `ref` callback); a new element gets a new plot. */
  attach = (el?: Element): void => {
    if (el === this.el) return;
    this.destroy();
    if (!(el instanceof HTMLElement)) return;
    this.el = el;
    void import('uplot').then(({ default: UPlot }) => this.create(UPlot, el));
  };

  /** uPlot comes in its own chunk, loaded when the first chart is shown. */
  private create(UPlot: typeof uPlot, el: HTMLElement): void {
    if (el !== this.el) return;
    this.plot = new UPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: el.clientWidth < 500 ? 220 : 320,
        series: [
          {},
          { label: 'min', stroke: 'rgba(21,101,192,0.35)', width: 1 },
          { label: 'mean', stroke: BLUE, width: 2 },
          { label: 'max', stroke: 'rgba(21,101,192,0.35)', width: 1 },
        ],
        bands: [{ series: [3, 1], fill: 'rgba(21,101,192,0.15)' }],
        scales: { x: { time: true, range: (_u, lo, hi) => this.range ?? [lo, hi] } },
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        hooks: {
          draw: [
            () => {
              if (this.since && this.el) this.el.dataset.renderMs = (performance.now() - this.since).toFixed(2);
              this.since = 0;
            },
          ],
        },
      },
      [[], [], [], []],
      el,
    );
    this.observer = new ResizeObserver(() => this.plot?.setSize({ width: Math.max(200, el.clientWidth), height: el.clientWidth < 500 ? 220 : 320 }));
    this.observer.observe(el);
    if (this.pending) this.set(...this.pending);
  }

  /** Marks the chart as waiting for new data: `data-render-ms` goes until it is drawn. */
  waiting(): void {
    if (this.el) delete this.el.dataset.renderMs;
  }

  /** Draws `buckets` over `range` (ms); `since` is when their response arrived (performance.now()). */
  set(buckets: readonly Bucket[], since = performance.now(), range?: [number, number]): void {
    this.pending = [buckets, since, range];
    this.range = range ? [range[0] / 1000, range[1] / 1000] : undefined;
    if (!this.plot) return;
    this.pending = undefined;
    this.since = since;
    this.waiting();
    const x = new Float64Array(buckets.length);
    const lo: Array<number | null> = [];
    const mid: Array<number | null> = [];
    const hi: Array<number | null> = [];
    buckets.forEach((b, i) => {
      x[i] = b.ts / 1000;
      lo.push(b.min);
      mid.push(b.mean);
      hi.push(b.max);
    });
    this.plot.setData([x as unknown as number[], lo, mid, hi]);
  }

  destroy(): void {
    this.observer?.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
    this.el = undefined;
  }
}

/** A small inline sparkline of bucket means (SVG: no chart library on the first view). */
export function sparkline(buckets: readonly Bucket[], label: string): TemplateResult {
  const pts = buckets.filter((b) => b.mean !== null) as Array<Bucket & { mean: number }>;
  if (pts.length < 2) return html`<span class="spark empty" title=${label}>not enough data yet</span>`;
  const x0 = pts[0]!.ts;
  const x1 = pts[pts.length - 1]!.ts;
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) {
    lo = Math.min(lo, p.mean);
    hi = Math.max(hi, p.mean);
  }
  const span = hi - lo || 1;
  const d = pts.map((p, i) => `${i ? 'L' : 'M'}${(((p.ts - x0) / (x1 - x0 || 1)) * 100).toFixed(2)},${(28 - ((p.mean - lo) / span) * 26).toFixed(2)}`).join('');
  return html`<svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none" role="img" aria-label=${label}>${svg`<path d=${d} fill="none" stroke=${BLUE} stroke-width="1.5" vector-effect="non-scaling-stroke"/>`}</svg>`;
}
