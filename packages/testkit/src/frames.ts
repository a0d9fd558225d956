/**
 * Ethernet frames a simulated network sends: ARP requests, DHCP-like discovers, IPv4/UDP, and
 * frames of other EtherTypes, plus the pcap file format that `tcpreplay` reads them from.
 */

/** Broadcast MAC. */
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';
/** A unicast MAC that belongs to no one: a switch floods it, every host drops it as for another host. */
export const NOBODY_MAC = '02:00:00:00:00:99';
/** Frames shorter than this are padded, as a NIC pads them on the wire (the FCS not counted). */
export const MIN_FRAME = 60;

const mac = (s: string) => Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
const ipv4 = (s: string) => Buffer.from(s.split('.').map(Number));

/** An Ethernet II frame: `payload` after a 14-byte header, padded to `MIN_FRAME`. */
export function ethernet(dst: string, src: string, etherType: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(Math.max(MIN_FRAME, 14 + payload.length));
  mac(dst).copy(b, 0);
  mac(src).copy(b, 6);
  b.writeUInt16BE(etherType, 12);
  payload.copy(b, 14);
  return b;
}

/** A broadcast ARP request: who has `target`, tell `srcIp`. */
export function arpRequest(srcMac: string, srcIp: string, target: string): Buffer {
  const p = Buffer.alloc(28);
  p.writeUInt16BE(1, 0); // Ethernet
  p.writeUInt16BE(0x0800, 2); // IPv4
  p[4] = 6;
  p[5] = 4;
  p.writeUInt16BE(1, 6); // request
  mac(srcMac).copy(p, 8);
  ipv4(srcIp).copy(p, 14);
  ipv4(target).copy(p, 24);
  return ethernet(BROADCAST_MAC, srcMac, 0x0806, p);
}

/** One Ethernet II + IPv4 + UDP frame: `size` is the frame's length without FCS (≥ 42: headers only). */
export interface UdpFrame {
  size: number;
  src: string;
  dst: string;
  /** Default 02:00:00:00:00:01. */
  srcMac?: string;
  /** Default 02:00:00:00:00:02 (no one's): a receiving host counts the frame as for another host, and neither answers nor forwards it. */
  dstMac?: string;
  sport?: number;
  dport?: number;
}

/** Builds an Ethernet II + IPv4 + UDP frame (UDP checksum 0, allowed over IPv4). */
export function udpFrame(f: UdpFrame): Buffer {
  if (f.size < 42 || f.size > 65535) throw new RangeError(`frame size ${f.size} outside 42–65535`);
  const ip = Buffer.alloc(f.size - 14);
  ip[0] = 0x45;
  ip.writeUInt16BE(ip.length, 2);
  ip[8] = 64; // ttl
  ip[9] = 17; // udp
  ipv4(f.src).copy(ip, 12);
  ipv4(f.dst).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  ip.writeUInt16BE(f.sport ?? 40000, 20);
  ip.writeUInt16BE(f.dport ?? 9, 22);
  ip.writeUInt16BE(ip.length - 20, 24);
  return ethernet(f.dstMac ?? '02:00:00:00:00:02', f.srcMac ?? '02:00:00:00:00:01', 0x0800, ip);
}

/** A DHCP-like discover: a 300-byte BOOTP request from 0.0.0.0:68 to 255.255.255.255:67, broadcast. */
export function dhcpDiscover(srcMac: string, xid: number): Buffer {
  const frame = udpFrame({ srcMac, dstMac: BROADCAST_MAC, src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67, size: 300 });
  const bootp = frame.subarray(42);
  bootp[0] = 1; // BOOTREQUEST
  bootp[1] = 1;
  bootp[2] = 6;
  bootp.writeUInt32BE(xid >>> 0, 4);
  mac(srcMac).copy(bootp, 28);
  bootp.writeUInt32BE(0x63825363, 236); // magic cookie
  return frame;
}

/** A frame of another EtherType (default 0x88b5, IEEE local experimental): traffic that is not IP. */
export function rawFrame(dstMac: string, srcMac: string, size: number, etherType = 0x88b5): Buffer {
  return ethernet(dstMac, srcMac, etherType, Buffer.alloc(Math.max(0, size - 14)));
}

/** The 24-byte header of a pcap stream (microsecond timestamps, Ethernet). */
export function pcapHeader(): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return head;
}

/** One pcap record: a 16-byte header (time `ms`) and the frame. */
export function pcapRecord(frame: Buffer, ms: number): Buffer {
  const rec = Buffer.alloc(16 + frame.length);
  rec.writeUInt32LE(Math.floor(ms / 1000), 0);
  rec.writeUInt32LE(Math.floor((ms % 1000) * 1000), 4);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  frame.copy(rec, 16);
  return rec;
}

/** A pcap file (microsecond timestamps, Ethernet) holding `frames`, 1 µs apart. */
export function pcapFile(frames: readonly Buffer[]): Buffer {
  return Buffer.concat([pcapHeader(), ...frames.map((f, i) => pcapRecord(f, i / 1000))]);
}
