import t from 'tap';
import fc from 'fast-check';
import { decode } from './index.js';

t.test('snmp property — any varbind (type tag × value) decodes to a datum or a declared failure, never a throw', async (t) => {
  let decoded = 0;
  const value = fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 70_000 }).map((b) => Buffer.from(b)), fc.bigInt(), fc.double(), fc.string());
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(1, 2, 3, 4, 5, 6, 64, 65, 66, 67, 68, 70, 128, 129, 130), fc.integer({ min: 0, max: 255 })), fc.string({ maxLength: 40 }), value, (type, oid, v) => {
      const d = decode({ oid, type, value: v });
      if (d.ok) {
        decoded++;
        if (!(typeof d.datum === 'number' || typeof d.datum === 'string')) throw new Error(`datum of type ${typeof d.datum}`);
        if (typeof d.datum === 'string' && d.datum.length > 65536) throw new Error('text over 64 Ki characters');
      } else if (d.kind !== 'not-found' && d.kind !== 'bad-response') throw new Error(`undeclared failure ${d.kind}`);
    }),
    { numRuns: 1000, seed: 11 },
  );
  t.ok(decoded > 0, `${decoded} of 1000 random varbinds decoded; the rest failed as declared`);
});
