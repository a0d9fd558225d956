import { createHmac, timingSafeEqual } from 'node:crypto';
import { ValidationError, type Alert } from '@probemesh/model';
import { httpTarget, postJson, type HttpTarget, type HttpTargetOptions } from './post.js';
import type { AlertSink } from '@probemesh/core';

/** The header that carries the transition's stable id (the receiver drops repeats by it). */
export const ID_HEADER = 'idempotency-key';
/** The header that carries `sha256=<hex of HMAC-SHA256(secret, body)>` when a secret is set. */
export const SIGNATURE_HEADER = 'x-probemesh-signature';

/** What a webhook receives: the transition's stable id and the alert. */
export interface WebhookBody {
  id: string;
  alert: Alert;
}

/** How a webhook sink posts. */
export interface WebhookSinkOptions extends HttpTargetOptions {
  /** Names the sink in logs and in the outbox (default `webhook`). */
  name?: string;
  /** Key of the HMAC-SHA256 signature (at least 16 characters); without it requests are not signed. */
  secret?: string;
}

/** Posts each alert transition as JSON to a URL, signed, with its id in `Idempotency-Key`. */
export class WebhookSink implements AlertSink {
  readonly name: string;
  private readonly target: HttpTarget;
  private readonly secret: string | undefined;

  constructor(o: WebhookSinkOptions) {
    this.name = o.name ?? 'webhook';
    this.target = httpTarget(this.name, o, [ID_HEADER, SIGNATURE_HEADER]);
    if (o.secret !== undefined && o.secret.length < 16) throw new ValidationError(`${this.name} sink`, [{ path: '/secret', message: 'must be at least 16 characters' }]);
    this.secret = o.secret;
  }

  /** Posts `{ id, alert }`; see `postJson` for what it throws. */
  async deliver(alert: Alert, id: string, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify({ id, alert } satisfies WebhookBody);
    await postJson(this.target, body, { [ID_HEADER]: id, ...(this.secret ? { [SIGNATURE_HEADER]: signature(this.secret, body) } : {}) }, signal);
  }
}

/** The signature header's value for `body`: `sha256=` and the hex HMAC-SHA256 of its bytes. */
export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `header` is the signature of the raw `body` bytes with `secret` (compared in constant time). */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signature(secret, body));
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
