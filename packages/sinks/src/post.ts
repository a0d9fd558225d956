import { request as httpRequest, validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { messageOf, systemClock, TimeoutError, type Clock } from '@probemesh/core';
import { ValidationError, type Issue } from '@probemesh/model';
import { SinkRejectedError, SinkUnavailableError } from './errors.js';

/** Where and how an HTTP sink posts. */
export interface HttpTargetOptions {
  /** `http://` or `https://`; user and password in it become basic auth. Redirects are not followed. */
  url: string;
  /** More request headers (e.g. `authorization`); the sink's own headers cannot be replaced. */
  headers?: Record<string, string>;
  /** Time for the whole exchange, from connecting to the last byte of the answer (default 10 s). */
  timeoutMs?: number;
  /** PEM certificates of the CAs trusted for `https` (default: Node's bundled roots). */
  ca?: string | Buffer;
  /** Injected time (default: the system clock). */
  clock?: Clock;
}

/** The checked form of HttpTargetOptions, ready to post. */
export interface HttpTarget {
  /** Names the sink in error messages. */
  sink: string;
  url: URL;
  /** `url` without credentials or query, for messages. */
  where: string;
  headers: Record<string, string>;
  timeoutMs: number;
  ca: string | Buffer | undefined;
  clock: Clock;
}

/** Most of an answer's body kept for an error message; the rest is read and dropped. */
const EXCERPT = 200;
/** An answer longer than this is cut off: a receiver cannot make the probe read without end. */
const MAX_ANSWER = 64 * 1024;
/** The longest wait a Retry-After header is believed for. */
const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Checks `o` (the URL, the extra headers, none of `reserved`) and returns the target, or throws a
 * ValidationError naming each field that is wrong.
 */
export function httpTarget(sink: string, o: HttpTargetOptions, reserved: readonly string[]): HttpTarget {
  const problems: Issue[] = [];
  let url: URL | undefined;
  try {
    url = new URL(o.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push({ path: '/url', message: `must be http:// or https://, not ${url.protocol}//` });
  } catch {
    problems.push({ path: '/url', message: `not a URL: ${JSON.stringify(o.url)}` });
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(o.headers ?? {})) {
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch (err) {
      problems.push({ path: `/headers/${name}`, message: messageOf(err) });
      continue;
    }
    if (reserved.includes(name.toLowerCase())) problems.push({ path: `/headers/${name}`, message: `set by the ${sink} sink itself; it cannot be configured` });
    else headers[name.toLowerCase()] = value;
  }
  const timeoutMs = o.timeoutMs ?? 10_000;
  if (!(timeoutMs > 0)) problems.push({ path: '/timeout', message: 'must be more than 0' });
  if (problems.length || !url) throw new ValidationError(`${sink} sink`, problems);
  return { sink, url, where: `${url.origin}${url.pathname}`, headers, timeoutMs, ca: o.ca, clock: o.clock ?? systemClock };
}

/**
 * POSTs `body` (JSON) to the target. Resolves on a 2xx; throws SinkRejectedError (4xx but 408 and
 * 429, 3xx), SinkUnavailableError (network, TLS, 5xx, 408, 429) or TimeoutError, or rejects with
 * the signal's reason when it aborts first.
 */
export function postJson(t: HttpTarget, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const send = t.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(t.url, {
      method: 'POST',
      headers: { ...t.headers, ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      ...(t.ca === undefined ? {} : { ca: t.ca }),
    });
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      t.clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve();
      req.destroy();
      reject(err);
    };
    const onAbort = () => settle(signal.reason);
    const timer = t.clock.setTimeout(() => settle(new TimeoutError(`${t.sink}: no answer from ${t.where} within ${t.timeoutMs} ms`)), t.timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => settle(new SinkUnavailableError(`${t.sink}: cannot reach ${t.where}: ${messageOf(err)}`, { cause: err })));
    req.on('response', (res) => {
      let excerpt = '';
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (excerpt.length < EXCERPT) excerpt += chunk.toString('utf8', 0, EXCERPT);
        if (length > MAX_ANSWER) {
          settle(verdict(t, res, excerpt));
          res.destroy();
        }
      });
      res.on('end', () => settle(verdict(t, res, excerpt)));
      res.on('error', (err) => settle(new SinkUnavailableError(`${t.sink}: answer from ${t.where} cut off: ${messageOf(err)}`, { cause: err })));
    });
    req.end(body);
  });
}

/** What an answer means for the delivery: undefined when delivered, else the error to throw. */
function verdict(t: HttpTarget, res: IncomingMessage, excerpt: string): Error | undefined {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return undefined;
  const said = printable(excerpt);
  const answered = `${t.where} answered ${status}${said ? `: ${said}` : ''}`;
  if (status >= 300 && status < 400) {
    const to = printable(res.headers.location ?? '');
    return new SinkRejectedError(`${t.sink}: ${t.where} redirects${to ? ` to ${to}` : ''} (${status}); redirects are not followed: configure the final URL`, status);
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return new SinkRejectedError(`${t.sink}: ${answered}`, status);
  const retryAfterMs = retryAfter(res.headers['retry-after'], t.clock.now());
  return new SinkUnavailableError(`${t.sink}: ${answered}`, { status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
}

/** A Retry-After header (seconds, or an HTTP date) as milliseconds from `now`, within reason. */
function retryAfter(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const ms = /^\d+$/.test(header.trim()) ? Number(header.trim()) * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms)) : undefined;
}

/** Text from the network made safe for one log line: no control characters, bounded length. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim().slice(0, EXCERPT);
}
