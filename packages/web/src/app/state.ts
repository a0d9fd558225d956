/// <reference lib="dom" />
import type { TemplateResult } from 'lit';

/** One screen of the console: drawn from the hash route, with optional set-up and tear-down. */
export interface View {
  title: string;
  /** Called when the view opens or its parameters change (fetch, start polling). */
  enter?(params: URLSearchParams, signal: AbortSignal): void | Promise<void>;
  render(params: URLSearchParams): TemplateResult;
}

type Redraw = () => void;
let redraw: Redraw = () => undefined;
let queued = false;

/** Asks for one redraw on the next microtask, however many changes happen before it. */
export function update(): void {
  if (queued) return;
  queued = true;
  queueMicrotask(() => {
    queued = false;
    redraw();
  });
}

export function onUpdate(fn: Redraw): void {
  redraw = fn;
}

/** The current route: `#/<view>?<params>`. */
export function route(): { view: string; params: URLSearchParams } {
  const h = location.hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  return { view: (q < 0 ? h : h.slice(0, q)) || 'overview', params: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)) };
}

/** A link to a view; the selected probe goes along so a shared link shows the same thing. */
export function href(view: string, params: Record<string, string | number | undefined> = {}): string {
  const p = new URLSearchParams();
  const probe = new URLSearchParams(location.hash.split('?')[1] ?? '').get('probe');
  if (probe && !('probe' in params)) p.set('probe', probe);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  const qs = p.toString();
  return `#/${view}${qs ? `?${qs}` : ''}`;
}

/** Replaces the view's parameters in the URL (the view is shareable) without a history entry per keystroke. */
export function setParams(params: Record<string, string | number | undefined>): void {
  const { view } = route();
  history.replaceState(null, '', href(view, params));
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
