import t from 'tap';
import fc from 'fast-check';
import { Framer, parseSyslog, RejectReason } from './index.js';

// Bounded runs: the file stays within a few seconds on a shared CI machine.
const RUNS = { numRuns: 500, seed: 7 };
const REASONS = new Set<string>(Object.values(RejectReason));

/** Text a hostile sender might send: syslog-looking prefixes followed by anything. */
const hostile = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.tuple(fc.constantFrom('<13>', '<191>', '<0>1 ', '<34>1 2024-01-01T00:00:00Z ', '<13>Jan  5 10:00:00 ', '<13>2024-01-01T00:00:00Z h ', '<165>1 - - - - - ['), fc.string({ maxLength: 200 })).map(([a, b]) => a + b),
);

t.test('syslog property — any text parses to a message or a reject reason, never a throw', async (t) => {
  let parsed = 0;
  fc.assert(
    fc.property(hostile, fc.integer({ min: 0, max: 4_102_444_800_000 }), (text, now) => {
      const m = parseSyslog(text, '192.0.2.1', now);
      if (typeof m === 'string') {
        if (!REASONS.has(m)) throw new Error(`unknown reject ${m}`);
        return;
      }
      parsed++;
      if (m.facility < 0 || m.facility > 23 || m.severity < 0 || m.severity > 7) throw new Error(`PRI out of range: ${JSON.stringify(m)}`);
      if (m.msg.length > text.length) throw new Error('the message grew');
    }),
    RUNS,
  );
  t.ok(parsed > 0, `${parsed} of ${RUNS.numRuns} hostile texts parsed; the rest were rejects`);
});

/** Pieces of a TCP stream: newline-framed and octet-counted messages (some oversize), and garbage. */
const part = fc.oneof(
  fc.string({ maxLength: 600 }).map((m) => Buffer.from(`<13>1 - h a - - - ${m}\n`)),
  fc.string({ maxLength: 600 }).map((m) => {
    const msg = Buffer.from(`<14>${m}`);
    return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
  }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
);

t.test('syslog property — any byte stream, cut anywhere, frames without a throw and holds at most one message', async (t) => {
  let frames = 0;
  fc.assert(
    fc.property(fc.array(part, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (parts, cuts) => {
      // The parts as one stream, cut at random places (TCP keeps no message boundaries).
      const stream = Buffer.concat(parts);
      const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const chunks = [...at, stream.length].map((end, i) => stream.subarray(i ? at[i - 1]! : 0, end));
      const framer = new Framer({ maxBytes: 480 }, (f) => {
        frames++;
        if (f.length > 480) throw new Error(`a frame of ${f.length} bytes passed the 480-byte limit`);
      }, (r) => {
        if (!REASONS.has(r)) throw new Error(`unknown reject ${r}`);
      });
      for (const c of chunks) {
        framer.push(c);
        const held = (framer as unknown as { pending: Buffer }).pending.length;
        if (held > 480 + 8) throw new Error(`the framer holds ${held} bytes`);
      }
      framer.end();
    }),
    RUNS,
  );
  t.ok(frames > 0, `${frames} frames cut from random streams`);
});
