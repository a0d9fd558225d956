import type { Context } from 'hono';
import { DEFAULT_LIMIT, ProbemeshError, type Query, type Value } from '@probemesh/model';
import type { ProbeService } from '@probemesh/runtime';

/** Records read per store query while streaming: a short synchronous read (~10 ms), then the socket decides. */
const CHUNK = 5000;

const utf8 = new TextEncoder();

/** Resolves after pending I/O callbacks ran: a stream fed from promise callbacks alone would starve every other request. */
const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * A body pulled a piece at a time: `next()` is called only when the socket has taken the previous
 * piece (the node server waits for drain), so a slow reader holds one piece, never the answer;
 * and only after other requests had their turn, so a fast reader does not hold the event loop.
 */
function pulled(next: () => string | undefined): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        await turn();
        const s = next();
        if (s === undefined) ctrl.close();
        else ctrl.enqueue(utf8.encode(s));
      },
    },
    { highWaterMark: 0 },
  );
}

/** Pages of `q`'s records, `CHUNK` at a time, up to `max` records; `next` is the cursor after the last one given. */
function pages(service: ProbeService, q: Query, max: number) {
  let given = 0;
  let cursor = q.cursor;
  let done = false;
  return {
    /** The following page, or undefined when `max` records were given or none are left. */
    read(): Value[] | undefined {
      if (done) return undefined;
      const r = service.query({ ...q, mode: 'records', limit: Math.min(CHUNK, max - given), ...(cursor !== undefined ? { cursor } : {}) });
      if (r.mode !== 'records') throw new ProbemeshError(`the store answered mode ${r.mode} to a records query`);
      given += r.records.length;
      cursor = r.next;
      done = cursor === undefined || given >= max;
      return r.records;
    },
    get next() {
      return cursor;
    },
  };
}

/** The elements of a JSON array, without its brackets (one stringify call for a whole read). */
const elements = (vs: Value[]) => JSON.stringify(vs).slice(1, -1);

/** Records an answer may hold to be built at once (~2 MB of JSON): below it, streaming costs more than it saves. */
const WHOLE = 20_000;

/** Records below which an answer is not worth keeping: a numeric record takes 40–100 bytes of JSON. */
const FEW = 1600;

/** Whether `q`'s answer may be large enough to keep: buckets, or records that may number `FEW` or more (an aggregate is one figure). */
const mayBeLarge = (q: Query) => q.mode === 'series' || ((q.mode ?? 'records') === 'records' && Math.min(q.limit ?? DEFAULT_LIMIT, q.first ?? q.last ?? Infinity) >= FEW);

/** A new object each time: the node server adds to the headers object it is given. */
const jsonType = () => ({ 'content-type': 'application/json' });

/**
 * Large answers kept as the bytes sent, each with the data version of the series it read: while
 * no commit changed them, the same query is answered from here (a dashboard that fifty people
 * watch is read and encoded once per change, not fifty times). Answers under `minBytes` cost less
 * to make than to keep; the least recently used go first past `maxBytes`.
 */
export class AnswerCache {
  private readonly kept = new Map<string, { version: string; body: Uint8Array<ArrayBuffer> }>();
  private bytes = 0;
  /** Answers given from here since start. */
  hits = 0;

  constructor(
    private readonly maxBytes = 16 * 2 ** 20,
    private readonly minBytes = 64 * 2 ** 10,
  ) {}

  /** Bytes held now. */
  get held(): number {
    return this.bytes;
  }

  /** `q`'s answer as JSON: the one kept when current, else `make()`'s (kept when large). */
  json(c: Context, service: ProbeService, q: Query, make: () => unknown): Response {
    if (!mayBeLarge(q)) return c.json(make() as object);
    const key = JSON.stringify(q);
    const version = service.dataVersion(q); // read before the answer: a commit in between makes it newer, never older
    const had = this.kept.get(key);
    if (had) {
      this.kept.delete(key); // re-inserted last: the map stays in order of use
      if (had.version === version) {
        this.kept.set(key, had);
        this.hits++;
        return c.body(had.body, 200, jsonType());
      }
      this.bytes -= had.body.byteLength;
    }
    const text = JSON.stringify(make());
    if (text.length < this.minBytes || text.length > this.maxBytes / 4) return c.body(text, 200, jsonType());
    const body = utf8.encode(text);
    this.kept.set(key, { version, body });
    this.bytes += body.byteLength;
    for (const [k, v] of this.kept) {
      if (this.bytes <= this.maxBytes) break;
      this.kept.delete(k);
      this.bytes -= v.body.byteLength;
    }
    return c.body(body, 200, jsonType());
  }
}

/**
 * A records answer (`{ mode, records, next? }`) of up to `q.limit` records (default 10,000): built
 * at once up to 20,000 records (and kept in `cache`); a larger page is streamed as a JSON array a
 * read at a time.
 */
export function recordsResponse(c: Context, service: ProbeService, q: Query, cache: AnswerCache): Response {
  const limit = q.limit ?? DEFAULT_LIMIT;
  if (limit <= WHOLE) return cache.json(c, service, q, () => service.query({ ...q, mode: 'records' }));
  const p = pages(service, q, limit);
  let page: Value[] | undefined = p.read()!;
  let sep = '';
  const body = pulled(() => {
    if (page === undefined) return undefined;
    const head = sep === '' ? '{"mode":"records","records":[' : '';
    const part = head + sep + elements(page);
    sep = page.length ? ',' : sep;
    page = p.read();
    if (page === undefined) {
      page = undefined;
      return part + ']' + (p.next !== undefined ? `,"next":${JSON.stringify(p.next)}` : '') + '}';
    }
    return part;
  });
  return c.body(body, 200, jsonType());
}

/** Export formats. */
export const ExportFormats = ['ndjson', 'csv'] as const;
export type ExportFormat = (typeof ExportFormats)[number];

/** A CSV field: quoted when it holds a separator, a quote or a line break; text that a spreadsheet would run as a formula is prefixed with '. */
function csvField(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const CSV_HEAD = 'ts,time,indicator,device,instance,rule,datum,incomplete\r\n';
const csvLine = (v: Value) => [v.ts, new Date(v.ts).toISOString(), v.indicator, v.device, v.instance, v.rule, v.datum, v.incomplete ? 'true' : undefined].map(csvField).join(',') + '\r\n';

/** Every record `q` selects (any number), streamed as NDJSON (one Value per line) or CSV. */
export function exportResponse(c: Context, service: ProbeService, q: Query, format: ExportFormat): Response {
  const p = pages(service, q, Infinity);
  let page: Value[] | undefined = p.read(); // read now: a bad query or cursor is an error status, not a cut stream
  let head = format === 'csv' ? CSV_HEAD : '';
  const body = pulled(() => {
    if (page === undefined) return undefined;
    const out = head + (format === 'csv' ? page.map(csvLine).join('') : page.map((v) => JSON.stringify(v) + '\n').join(''));
    head = '';
    page = p.read();
    return out;
  });
  const type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson';
  return c.body(body, 200, { 'content-type': type, 'content-disposition': `attachment; filename="probemesh-export.${format}"` });
}
