/**
 * Just enough BER to craft the SNMP datagrams that real agents and senders never send on demand
 * (a foreign OID in an answer, a BIT STRING in an inform) and to read a v1/v2c request: for tests
 * and benches of what the probe does with hostile input.
 */

/** One TLV with a definite length. */
export function tlv(tag: number, body: Buffer | number[]): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const n = b.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), b]);
}

/** An INTEGER of any size (two's complement, shortest form). */
export function int(n: number | bigint): Buffer {
  let v = BigInt(n);
  const out: number[] = [];
  for (;;) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
    if ((v === 0n && !(out[0]! & 0x80)) || (v === -1n && out[0]! & 0x80)) break;
  }
  return tlv(0x02, out);
}

/** An OBJECT IDENTIFIER from dotted text. */
export function oid(text: string): Buffer {
  const arcs = text.split('.').map(Number);
  const out = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const bytes: number[] = [];
    let v = arc;
    do {
      bytes.unshift((v & 0x7f) | (bytes.length ? 0x80 : 0));
      v = Math.floor(v / 128);
    } while (v > 0);
    out.push(...bytes);
  }
  return tlv(0x06, out);
}

/** A SEQUENCE of encoded parts. */
export const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));

/** PDU tags of SNMP v1/v2c. */
export const PDU = { get: 0xa0, getNext: 0xa1, response: 0xa2, set: 0xa3, getBulk: 0xa5, inform: 0xa6, trapV2: 0xa7 } as const;

/** A v2c message: community, PDU tag, request-id, and varbinds given as OID text and an encoded value. */
export function v2cMessage(community: string, pdu: number, requestId: number, varbinds: Array<[string, Buffer]>): Buffer {
  const list = seq(...varbinds.map(([o, value]) => seq(oid(o), value)));
  return seq(int(1), tlv(0x04, Buffer.from(community)), tlv(pdu, Buffer.concat([int(requestId), int(0), int(0), list])));
}

/** A v1/v2c message read back: version, community, PDU tag, request-id and the varbinds' OIDs. */
export interface ReadMessage {
  version: number;
  community: string;
  pdu: number;
  requestId: number;
  /** GetBulk's non-repeaters (error-status in other PDUs). */
  nonRepeaters: number;
  /** GetBulk's max-repetitions (error-index in other PDUs). */
  maxRepetitions: number;
  oids: string[];
}

/** Reads a v1/v2c request (what a crafted responder needs to answer it); throws on anything else. */
export function readMessage(buf: Buffer): ReadMessage {
  let p = 0;
  const head = () => {
    const tag = buf[p++]!;
    let len = buf[p++]!;
    if (len & 0x80) {
      const k = len & 0x7f;
      len = 0;
      for (let i = 0; i < k; i++) len = len * 256 + buf[p++]!;
    }
    if (p + len > buf.length) throw new Error('truncated');
    return { tag, len };
  };
  const integer = () => {
    const { len } = head();
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + buf[p++]!;
    return v;
  };
  head(); // message SEQUENCE
  const version = integer();
  const c = head();
  const community = buf.toString('latin1', p, p + c.len);
  p += c.len;
  const { tag: pdu } = head();
  const requestId = integer();
  const nonRepeaters = integer();
  const maxRepetitions = integer();
  const list = head();
  const end = p + list.len;
  const oids: string[] = [];
  while (p < end) {
    const vb = head();
    const next = p + vb.len;
    const o = head();
    const bytes = buf.subarray(p, p + o.len);
    const arcs = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
    let v = 0;
    for (const b of bytes.subarray(1)) {
      v = v * 128 + (b & 0x7f);
      if (!(b & 0x80)) {
        arcs.push(v);
        v = 0;
      }
    }
    oids.push(arcs.join('.'));
    p = next;
  }
  return { version, community, pdu, requestId, nonRepeaters, maxRepetitions, oids };
}
