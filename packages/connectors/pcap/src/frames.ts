/**
 * One Ethernet II + IPv4 + UDP frame, for tests and benchmarks that replay traffic. The default
 * destination MAC belongs to no one, so a receiving host counts the frame as for another host and
 * neither answers nor forwards it.
 */
export interface UdpFrame {
  /** Frame length in bytes without FCS (≥ 42: headers only). */
  size: number;
  src: string;
  dst: string;
  srcMac?: string;
  dstMac?: string;
  sport?: number;
  dport?: number;
}

const mac = (s: string) => Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
const ipv4 = (s: string) => Buffer.from(s.split('.').map(Number));

/** Builds an Ethernet II + IPv4 + UDP frame (UDP checksum 0, allowed over IPv4). */
export function udpFrame(f: UdpFrame): Buffer {
  if (f.size < 42 || f.size > 65535) throw new RangeError(`frame size ${f.size} outside 42–65535`);
  const b = Buffer.alloc(f.size);
  mac(f.dstMac ?? '02:00:00:00:00:02').copy(b, 0);
  mac(f.srcMac ?? '02:00:00:00:00:01').copy(b, 6);
  b.writeUInt16BE(0x0800, 12);
  const ipLen = f.size - 14;
  b[14] = 0x45;
  b.writeUInt16BE(ipLen, 16);
  b[22] = 64; // ttl
  b[23] = 17; // udp
  ipv4(f.src).copy(b, 26);
  ipv4(f.dst).copy(b, 30);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, 24);
  b.writeUInt16BE(f.sport ?? 40000, 34);
  b.writeUInt16BE(f.dport ?? 9, 36);
  b.writeUInt16BE(ipLen - 20, 38);
  return b;
}

/** A pcap file (microsecond timestamps, Ethernet) holding `frames`, 1 µs apart. */
export function pcapFile(frames: readonly Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const parts: Buffer[] = [head];
  frames.forEach((f, i) => {
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(i / 1e6), 0);
    rec.writeUInt32LE(i % 1e6, 4);
    rec.writeUInt32LE(f.length, 8);
    rec.writeUInt32LE(f.length, 12);
    parts.push(rec, f);
  });
  return Buffer.concat(parts);
}
