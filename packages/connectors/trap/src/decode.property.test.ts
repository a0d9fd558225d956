import t from 'tap';
import fc from 'fast-check';
import { createSocket } from 'node:dgram';
import type { ConnectorSession } from '@probemesh/core';
import { systemClock } from '@probemesh/core';
import { int, oid, PDU, tlv, v2cMessage } from '@probemesh/connector-snmp/internal';
import { freeUdpPort, waitUntil } from '@probemesh/testkit';
import { SNMP_TRAP_ADDRESS, SNMP_TRAP_OID, toTrap, trapConnector, type TrapParams } from './index.js';

const LINK_DOWN = '1.3.6.1.6.3.1.1.5.3';
const trap = (pdu: number, value: Buffer) =>
  v2cMessage('public', pdu, 7, [
    ['1.3.6.1.2.1.1.3.0', tlv(0x43, [1])],
    ['1.3.6.1.6.3.1.1.4.1.0', oid(LINK_DOWN)],
    ['1.3.6.1.2.1.2.2.1.1.3', value],
  ]);

/** Datagrams a hostile or broken sender might send: random bytes, and real notifications with bytes flipped, cut or any value. */
const datagram = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom(PDU.trapV2, PDU.inform), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 12 })).map(([pdu, tag, body]) => trap(pdu, tlv(tag, Buffer.from(body)))),
  fc.tuple(fc.constantFrom(PDU.trapV2, PDU.inform), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n })).map(([pdu, n]) => trap(pdu, int(n))),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat()).map(([at, byte, cut]) => {
    const b = Buffer.from(trap(PDU.inform, int(5)));
    b[at % b.length] = byte;
    return b.subarray(0, b.length - (cut % 8));
  }),
);

t.test('trap property — any datagram is taken in, counted or rejected, and never stops the listener', async (t) => {
  const port = await freeUdpPort();
  const s = (await trapConnector.start({ clock: systemClock, dataDir: '/tmp', log: () => undefined })) as ConnectorSession<TrapParams>;
  t.teardown(() => s.stop());
  await s.sync!([{ indicator: 'downs', params: { measure: 'count', port, trapOid: LINK_DOWN } }]);
  const sender = createSocket('udp4');
  t.teardown(() => sender.close());
  const batch = fc.sample(datagram, { numRuns: 400, seed: 3 });
  // Paced in small bursts so that the kernel drops none (drops are another test's subject).
  for (let i = 0; i < batch.length; i++) {
    await new Promise<void>((r, j) => sender.send(batch[i]!, port, '127.0.0.1', (e) => (e ? j(e) : r())));
    if (i % 20 === 19) await waitUntil('the burst arrived', () => (s.stats!().datagrams ?? 0) >= i + 1);
  }
  await waitUntil('every datagram taken in', () => s.stats!().datagrams === batch.length);
  const st = s.stats!();
  t.equal(st.listeners_open, 1, 'the listener is still open');
  t.ok(st.rejects! > 0 && st.traps! + st.informs! > 0, `${st.traps} traps, ${st.informs} informs, ${st.rejects} rejects (${st.rejects_exception} contained exceptions), ${st.acks_repaired} acks repaired`);
  const before = st.traps!;
  sender.send(trap(PDU.trapV2, int(1)), port, '127.0.0.1');
  await waitUntil('a well-formed trap is still counted', () => s.stats!().traps === before + 1);
});

t.test('trap property — toTrap takes any notification shape without a throw', async (t) => {
  let traps = 0;
  const varbind = fc.record({ oid: fc.oneof(fc.constantFrom(SNMP_TRAP_OID, SNMP_TRAP_ADDRESS), fc.string({ maxLength: 30 })), type: fc.integer({ min: 0, max: 255 }), value: fc.anything() });
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(0xa4, 0xa6, 0xa7), fc.integer({ min: 0, max: 255 })), fc.array(varbind, { maxLength: 6 }), fc.option(fc.string()), (type, varbinds, community) => {
      const n = { pdu: { type, varbinds, ...(community !== null ? { community } : {}) }, rinfo: { address: '192.0.2.1', family: 'IPv4', port: 162, size: 0 } };
      if (toTrap(n)) traps++;
    }),
    { numRuns: 1000, seed: 5 },
  );
  t.pass(`${traps} of 1000 random notifications named a trap OID`);
});
