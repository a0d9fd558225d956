import type { Datum } from '@probemesh/model';
import type { Varbind } from 'net-snmp';
import snmp from 'net-snmp';

const T = snmp.ObjectType;
const MAX_TEXT = 65536;

/** A Counter64 (an 8-byte big-endian Buffer in net-snmp) as a number: exact up to 2^53, nearest double above. */
export function counter64(buf: Buffer): number {
  let n = 0n;
  for (const b of buf.subarray(-8)) n = (n << 8n) | BigInt(b);
  return Number(n);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `buf` as text when it is valid UTF-8 without control characters other than tab, CR and LF (trailing NULs dropped). */
function text(buf: Buffer): string | undefined {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  let ascii = true;
  for (let i = 0; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) ascii = false;
    else if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return undefined;
  }
  if (ascii) return buf.toString('latin1', 0, end); // the common case, without a decoder
  try {
    const s = utf8.decode(buf.subarray(0, end));
    // eslint-disable-next-line no-control-regex
    return /[\u0080-\u009F]/.test(s) ? undefined : s;
  } catch {
    return undefined;
  }
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
function hex(buf: Buffer): string {
  let s = '';
  for (let i = 0; i < buf.length; i++) s += (i ? ':' : '') + HEX[buf[i]!];
  return s;
}

/** An OctetString as text when printable (trailing NULs dropped), else colon-separated hex ("46:e1:52:43:f4:c7"). */
export function octets(buf: Buffer): string {
  const s = text(buf) ?? hex(buf);
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s;
}

/** What a varbind says: a datum, or why it has none ('not-found' for the v2 exceptions). */
export type Decoded = { ok: true; datum: Datum } | { ok: false; kind: 'not-found' | 'bad-response'; error: string };

/** Turns one varbind into a datum: numbers for the integer types, text for strings, OIDs and addresses. */
export function decode(vb: Varbind): Decoded {
  const v = vb.value;
  switch (vb.type) {
    case T.Integer:
    case T.Counter:
    case T.Gauge:
    case T.TimeTicks:
      if (typeof v === 'number' && Number.isFinite(v)) return { ok: true, datum: v };
      break;
    case T.Counter64:
      if (Buffer.isBuffer(v)) return { ok: true, datum: counter64(v) };
      if (typeof v === 'number' || typeof v === 'bigint') return { ok: true, datum: Number(v) };
      break;
    case T.OctetString:
      if (Buffer.isBuffer(v)) return { ok: true, datum: octets(v) };
      if (typeof v === 'string') return { ok: true, datum: v.slice(0, MAX_TEXT) };
      break;
    case T.Opaque:
    case T.BitString:
      if (Buffer.isBuffer(v)) return { ok: true, datum: hex(v).slice(0, MAX_TEXT) };
      break;
    case T.OID:
    case T.IpAddress:
      if (typeof v === 'string') return { ok: true, datum: v };
      break;
    case T.Boolean:
      return { ok: true, datum: v ? 1 : 0 };
    case T.NoSuchObject:
      return { ok: false, kind: 'not-found', error: `no such object: ${vb.oid} (the agent does not implement it)` };
    case T.NoSuchInstance:
      return { ok: false, kind: 'not-found', error: `no such instance: ${vb.oid} (check the index suffix)` };
    case T.EndOfMibView:
      return { ok: false, kind: 'not-found', error: `end of MIB view at ${vb.oid}` };
    case T.Null:
      return { ok: false, kind: 'bad-response', error: `${vb.oid} is NULL` };
  }
  return { ok: false, kind: 'bad-response', error: `${vb.oid}: cannot read a value of type ${T[vb.type] ?? vb.type}` };
}
