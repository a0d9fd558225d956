/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="dom.asynciterable" />
// The console's only way to the probe: same-origin fetch with the token in a header (never in a
// URL, so it reaches no server log), `?probe=` when another probe of the mesh is selected, and
// errors turned into sentences.

/** A refusal or failure of the API, with its status and the words to show. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: ReadonlyArray<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

/** Dispatched on `window` when the probe stops accepting the session's token. */
export const SIGNED_OUT = 'probemesh:signed-out';

/** What 401 and 403 mean to an operator. */
export function explain(err: unknown): string {
  if (!(err instanceof RequestError)) return `The probe did not answer: ${(err as Error).message ?? String(err)}. Is it running, and is the network up?`;
  if (err.status === 401) return 'The probe does not accept this token (401): it is unknown or was removed from its configuration. Sign in again with a token from the probe\'s "tokens" list.';
  if (err.status === 403) return 'Your token may only read (403): this change needs an admin token. Sign in with one to edit.';
  if (err.status === 0) return err.message;
  if (err.status === 502 || err.status === 504) return `The selected probe could not be reached through this one (${err.status}): ${err.message}`;
  return err.message;
}

const TOKEN = 'probemesh.token';
const ROLE = 'probemesh.role';

/** The signed-in session: kept in sessionStorage, so it ends with the tab. */
export const session = {
  token: sessionStorage.getItem(TOKEN) ?? '',
  role: (sessionStorage.getItem(ROLE) ?? '') as '' | 'read' | 'admin',
  save(token: string, role: 'read' | 'admin') {
    this.token = token;
    this.role = role;
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(ROLE, role);
  },
  clear() {
    this.token = '';
    this.role = '';
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(ROLE);
  },
};

/** The probe every view acts on (`?probe=` forwarding); undefined = the one serving the page. */
export const target: { probe?: string; self?: string; selfRole?: string; info?: { counts: Record<string, number> } } = {};

/** Options of one API call. */
export interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  params?: Record<string, string | number | undefined>;
  /** Ask the probe serving the page even when another one is selected. */
  local?: boolean;
  token?: string;
  signal?: AbortSignal;
}

/** The URL of an API path with its parameters and, unless `local`, the selected probe. */
export function url(path: string, call: Pick<Call, 'params' | 'local'> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(call.params ?? {})) if (v !== undefined && v !== '') p.set(k, String(v));
  if (!call.local && target.probe && target.probe !== target.self) p.set('probe', target.probe);
  const qs = p.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The serving probe's OpenAPI document (open, read once at sign-in): forms are drawn from it, forwarding is looked up in it. */
export const doc: { paths?: Record<string, Record<string, { parameters?: Array<{ name: string; in: string }> }>>; components?: { schemas?: Record<string, any> } } = {};

/** Whether the API takes `?probe=` on this route (forwarding reaches routes one by one). */
function forwards(method: string, path: string): boolean {
  for (const [template, ops] of Object.entries(doc.paths ?? {})) {
    if (!new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path)) continue;
    return (ops[method.toLowerCase()]?.parameters ?? []).some((p) => p.in === 'query' && p.name === 'probe');
  }
  return false;
}

let docLoaded: Promise<void> | undefined;

/** Reads the OpenAPI document once, when a view first needs it (forms, forwarding). */
export function loadDoc(): Promise<void> {
  return (docLoaded ??= api<typeof doc>('/openapi.json', { local: true }).then(
    (d) => void Object.assign(doc, d),
    (err) => {
      docLoaded = undefined; // asked again by the next view that needs it
      throw err;
    },
  ));
}

/** Calls the API; resolves with the JSON answer (undefined for 204), throws a RequestError otherwise. */
export async function api<T>(path: string, call: Call = {}): Promise<T> {
  const method = call.method ?? 'GET';
  if (!call.local && target.probe && target.probe !== target.self) await loadDoc();
  if (!call.local && target.probe && target.probe !== target.self && !forwards(method, path))
    throw new RequestError(0, 'no-forwarding', `${target.self} cannot yet ask ${target.probe} for ${method} ${path}: its API takes ?probe= only on some routes. Open ${target.probe}'s own console, or select ${target.self} in Mesh.`);
  const headers: Record<string, string> = { authorization: `Bearer ${call.token ?? session.token}` };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url(path, call), {
    method,
    headers,
    ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
    ...(call.signal ? { signal: call.signal } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new RequestError(res.status, 'not-json', `the probe answered ${res.status} with something that is not JSON`);
  }
  if (res.status === 401 && call.token === undefined) window.dispatchEvent(new Event(SIGNED_OUT)); // the session's token was withdrawn
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string; issues?: Array<{ path: string; message: string }> } })?.error;
    throw new RequestError(res.status, e?.code ?? 'error', e?.message ?? `HTTP ${res.status}`, e?.issues ?? []);
  }
  return body as T;
}

/** What a token may do here (`GET /session`; 401 for a token the probe does not know). */
export async function roleOf(token: string): Promise<'read' | 'admin'> {
  return (await api<{ role: 'read' | 'admin' }>('/session', { token, local: true })).role;
}

/**
 * Follows a Server-Sent Events stream through fetch (EventSource cannot send the token in a
 * header), calling `on(event, data)` per event and reconnecting with back-off until `signal` aborts.
 */
export async function follow(path: string, on: (event: string, data: string) => void, signal: AbortSignal, onState?: (live: boolean, why?: string) => void): Promise<void> {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      const res = await fetch(url(path, { local: true }), { headers: { authorization: `Bearer ${session.token}`, accept: 'text/event-stream' }, signal });
      if (!res.ok || !res.body) throw new RequestError(res.status, 'stream', `the alert stream answered ${res.status}`);
      onState?.(true);
      delay = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        // Bounded: an event larger than 1 MiB is dropped rather than buffered forever.
        if (buf.length > 1 << 20) buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) on(event, data.join('\n'));
        }
      }
      onState?.(false, 'the probe closed the stream');
    } catch (err) {
      if (signal.aborted) return;
      onState?.(false, explain(err));
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}
