/** A number as an operator reads it: up to 4 significant digits, thousands grouped; text as is. */
export function fmt(v: unknown, unit?: string): string {
  if (v === null || v === undefined) return '—';
  if (typeof v !== 'number') return String(v);
  const abs = Math.abs(v);
  const s = abs !== 0 && (abs < 0.001 || abs >= 1e9) ? v.toExponential(3) : v.toLocaleString('en-US', { maximumSignificantDigits: abs >= 1000 ? 7 : 4 });
  return unit ? `${s} ${unit}` : s;
}

/** "12 s ago", "3 min ago" … */
export function ago(ts: number | undefined, now = Date.now()): string {
  if (!ts) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A local date and time, to the second. */
export function when(ts: number): string {
  const d = new Date(ts);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

