import t from 'tap';
import { Framer, parseSyslog, type RejectReason, type SyslogMessage } from './index.js';

const NOW = new Date(2024, 5, 15, 12, 0, 0).getTime(); // 15 June 2024, local time

t.test('parser — RFC 5424 header, structured data with escapes, BOM and nil fields', async (t) => {
  const m = parseSyslog('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Appli\\"c]ation"][x@1 a="\\]"] \uFEFFAn application event', '10.0.0.9') as SyslogMessage;
  t.same(m, {
    format: 'rfc5424',
    facility: 20,
    severity: 5,
    ts: Date.UTC(2003, 9, 11, 22, 14, 15, 3),
    host: 'mymachine.example.com',
    app: 'evntslog',
    procId: '1234',
    msgId: 'ID47',
    sd: '[exampleSDID@32473 iut="3" eventSource="Appli\\"c]ation"][x@1 a="\\]"]',
    msg: 'An application event',
  });
  const nil = parseSyslog('<0>1 - - - - - -', '192.0.2.1') as SyslogMessage;
  t.same([nil.facility, nil.severity, nil.ts, nil.host, nil.app, nil.msg], [0, 0, undefined, '192.0.2.1', '', ''], 'nil fields; the sender address stands for the host');
  const logger = parseSyslog('<156>1 2026-11-28T15:59:35.552622+00:00 vm myapp - - [timeQuality tzKnown="1" isSynced="0"] hello 5424\n') as SyslogMessage;
  t.same([logger.facility, logger.severity, logger.host, logger.app, logger.msg, logger.ts], [19, 4, 'vm', 'myapp', 'hello 5424', Date.UTC(2026, 10, 28, 15, 59, 35, 552)], 'as util-linux logger sends it');
});

t.test('parser — RFC 3164 variants: host, tag[pid], no host, no stamp, ISO stamp, year roll-over', async (t) => {
  const a = parseSyslog('<34>Oct 11 22:14:15 mymachine su: \'su root\' failed for lonvick on /dev/pts/8', '10.0.0.9', NOW) as SyslogMessage;
  t.same([a.format, a.facility, a.severity, a.host, a.app, a.msg], ['rfc3164', 4, 2, 'mymachine', 'su', "'su root' failed for lonvick on /dev/pts/8"]);
  t.equal(a.ts, new Date(2023, 9, 11, 22, 14, 15).getTime(), 'October is still last year in June');
  const b = parseSyslog('<27>Jun  5 08:00:01 web-1 nginx[812]: upstream timed out', '', NOW) as SyslogMessage;
  t.same([b.ts, b.host, b.app, b.procId, b.msg], [new Date(2024, 5, 5, 8, 0, 1).getTime(), 'web-1', 'nginx', '812', 'upstream timed out']);
  const c = parseSyslog('<13>Jun 15 11:59:00 sshd[9]: Accepted key', '10.1.1.1', NOW) as SyslogMessage;
  t.same([c.host, c.app, c.procId, c.msg], ['10.1.1.1', 'sshd', '9', 'Accepted key'], 'no host: the tag follows the stamp');
  const d = parseSyslog('<13>kernel: plain content', '10.1.1.2', NOW) as SyslogMessage;
  t.same([d.ts, d.host, d.app, d.msg], [undefined, '10.1.1.2', 'kernel', 'plain content']);
  const e = parseSyslog('<13>just some words: no tag', '', NOW) as SyslogMessage;
  t.same([e.app, e.msg], ['', 'just some words: no tag'], 'a word before a space is not a tag');
  const f = parseSyslog('<14>2024-06-15T10:00:00.5+02:00 rack3-pdu snmpd: ok', '', NOW) as SyslogMessage;
  t.same([f.ts, f.host, f.app, f.msg], [Date.UTC(2024, 5, 15, 8, 0, 0, 500), 'rack3-pdu', 'snmpd', 'ok'], 'rsyslog ISO stamp');
  const g = parseSyslog('<191>', 'x', NOW) as SyslogMessage;
  t.same([g.facility, g.severity, g.msg], [23, 7, ''], 'the largest PRI with nothing after it');
});

t.test('parser — malformed messages are reject reasons, never throws', async (t) => {
  const cases: Array<[string, RejectReason]> = [
    ['', 'pri'],
    ['no pri at all', 'pri'],
    ['<>x', 'pri'],
    ['<192>x', 'pri'],
    ['<01>x', 'pri'],
    ['<1234>x', 'pri'],
    ['<13 x', 'pri'],
    ['\u00ff\u00fe<13>x', 'pri'],
    ['<13>1 2024-01-01T00:00:00Z host app', 'header'],
    ['<13>1 yesterday host app - - - msg', 'header'],
    ['<13>1 - host app - - [unterminated a="1"', 'header'],
    ['<13>1 - host app - - nosd', 'header'],
    ['<13>1 - host app - - -msg', 'header'],
    [`<13>1 - ${'h'.repeat(256)} app - - - m`, 'header'],
  ];
  for (const [s, why] of cases) t.equal(parseSyslog(s), why, JSON.stringify(s.slice(0, 40)));
});

/** Runs a stream through a Framer in chunks of `size` bytes; returns frames and rejects in order. */
function frame(stream: Buffer, size: number, maxBytes = 64): string[] {
  const out: string[] = [];
  const f = new Framer(
    { maxBytes },
    (b) => out.push(b.toString()),
    (r) => out.push(`!${r}`),
  );
  for (let i = 0; i < stream.length; i += size) f.push(stream.subarray(i, i + size));
  f.end();
  return out;
}

t.test('framing — octet counting and newline frames, split at any byte', async (t) => {
  const stream = Buffer.from('11 <13>counted<13>newline\n\n5 <1>ab<13>crlf\r\n11 <13>x\ny\nzzz<13>last unterminated');
  const want = ['<13>counted', '<13>newline', '<1>ab', '<13>crlf\r', '<13>x\ny\nzzz', '<13>last unterminated'];
  for (const size of [1, 2, 3, 7, stream.length]) t.same(frame(stream, size), want, `chunks of ${size}`);
});

t.test('framing — oversize and garbage are rejects that do not swallow the next frame', async (t) => {
  const big = `<13>${'x'.repeat(96)}`;
  const stream = Buffer.from(`${big.length} ${big}6 <13>ok\ngarbage line\n<13>${'y'.repeat(80)}\n<13>fine\n1234567 x\n<13>after\n9999 <13>trunc`);
  const want = ['!oversize', '<13>ok', '!framing', '!oversize', '<13>fine', '!framing', '<13>after', '!oversize'];
  for (const size of [1, 5, stream.length]) t.same(frame(stream, size), want, `chunks of ${size}`);
  t.same(frame(Buffer.from('20 <13>half'), 4), ['!framing'], 'a counted frame cut by the end of the stream');
});
