import t from 'tap';
import snmp from 'net-snmp';
import { counter64, decode, octets } from './datum.js';

t.test('datum — Counter64 is exact up to 2^53 and the nearest double above', async (t) => {
  t.equal(counter64(Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])), 2 ** 32);
  t.equal(counter64(Buffer.from([0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), Number.MAX_SAFE_INTEGER);
  t.equal(counter64(Buffer.alloc(8, 0xff)), 18446744073709551615, '2^64 - 1 rounds to 2^64');
  t.equal(counter64(Buffer.from([0x05])), 5, 'a short encoding');
  t.equal(counter64(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 9])), 9, 'a leading zero byte (BER sign) is dropped');
});

t.test('datum — OctetString is text when printable, hex otherwise', async (t) => {
  t.equal(octets(Buffer.from('rack 12 — salle B')), 'rack 12 — salle B', 'UTF-8 text');
  t.equal(octets(Buffer.from([0x46, 0xe1, 0x52, 0x43, 0xf4, 0xc7])), '46:e1:52:43:f4:c7', 'a MAC address');
  t.equal(octets(Buffer.from('abc\0\0')), 'abc', 'trailing NULs dropped');
  t.equal(octets(Buffer.from([0x61, 0x01, 0x62])), '61:01:62', 'control characters make it binary');
  t.equal(octets(Buffer.alloc(0)), '', 'empty');
});

t.test('datum — exceptions and odd types say what is wrong', async (t) => {
  const T = snmp.ObjectType;
  t.match(decode({ oid: '1.3.6.1.9', type: T.NoSuchObject!, value: null }), { ok: false, kind: 'not-found', error: /1\.3\.6\.1\.9/ });
  t.match(decode({ oid: '1.3.6.1.9.0', type: T.NoSuchInstance!, value: null }), { ok: false, kind: 'not-found' });
  t.match(decode({ oid: '1.3.6.1.9.0', type: T.EndOfMibView!, value: null }), { ok: false, kind: 'not-found' });
  t.match(decode({ oid: '1.3.6.1.9.0', type: T.Null!, value: null }), { ok: false, kind: 'bad-response' });
  t.match(decode({ oid: '1.3.6.1.9.0', type: T.Integer!, value: 'x' }), { ok: false, kind: 'bad-response', error: /Integer/ });
  t.same(decode({ oid: '1.3.6.1.9.0', type: T.OID!, value: '1.3.6.1.4.1.8072.3.2.10' }), { ok: true, datum: '1.3.6.1.4.1.8072.3.2.10' });
  t.same(decode({ oid: '1.3.6.1.9.0', type: T.IpAddress!, value: '127.0.0.1' }), { ok: true, datum: '127.0.0.1' });
});
