import t from 'tap';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Containment, ManualClock, udpKernelDrops } from './index.js';

t.test('containment — an exception is counted every time and logged once per cause per minute', async (t) => {
  const clock = new ManualClock(0);
  const logs: string[] = [];
  const c = new Containment(clock, (level, m) => logs.push(`${level} ${m}`), 'trap 127.0.0.1:162');
  const explode = c.wrap((n: number) => {
    if (n > 0) throw new RangeError(`Integer to write ${n} is outside the signed 32-bit range`);
  }, () => '192.0.2.7');
  explode(0);
  t.equal(c.count, 0, 'a clean call is not counted');
  for (const n of [2 ** 40, 2 ** 41, 2 ** 42]) explode(n);
  c.record(new TypeError('boom'));
  t.equal(c.count, 4);
  t.same(logs, [
    'error trap 127.0.0.1:162: contained an exception from 192.0.2.7: RangeError: Integer to write 1099511627776 is outside the signed 32-bit range',
    'error trap 127.0.0.1:162: contained an exception: TypeError: boom',
  ]);
  await clock.advance(60_000);
  explode(1);
  t.equal(logs[2], 'error trap 127.0.0.1:162: contained an exception from 192.0.2.7: RangeError: Integer to write 1 is outside the signed 32-bit range (2 more like it since it was last logged)');
});

t.test('udp kernel drops — the drops column of the socket bound to an address and port', async (t) => {
  t.equal(udpKernelDrops('127.0.0.1', 1), undefined, 'no socket there: nothing to say');
  t.equal(udpKernelDrops('not an address', 1), undefined);
  // A receiver that never reads, with the smallest buffer the kernel allows: a burst overflows it.
  const py = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1)\ns.bind(("127.0.0.1",0))\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => py.kill());
  const [line] = (await once(py.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  t.equal(udpKernelDrops('127.0.0.1', port), 0, 'a fresh socket has dropped nothing');
  const s = createSocket('udp4');
  t.teardown(() => s.close());
  for (let i = 0; i < 200; i++) await new Promise<void>((r, j) => s.send(Buffer.alloc(512), port, '127.0.0.1', (e) => (e ? j(e) : r())));
  t.ok(udpKernelDrops('127.0.0.1', port)! > 100, `drops counted: ${udpKernelDrops('127.0.0.1', port)} of 200 datagrams`);
});
