import { Type, type Static } from '@probemesh/model';

/** Ready-made indicators: each is a BPF filter (ANDed with `filter` when both are given). */
export const Kinds = {
  total: '',
  broadcast: 'ether broadcast',
  multicast: 'ether multicast and not ether broadcast',
  ip: 'ip or ip6',
  tcp: 'tcp',
  udp: 'udp',
  port: 'port', // + the indicator's port (80 by default: web traffic)
  top_talkers: '', // + a per-source table
} as const;
export type Kind = keyof typeof Kinds;

/** What a pcap indicator reports per window (the time since this indicator's previous reading). */
export const Measures = ['packets', 'bytes', 'pps', 'bps', 'kernel_drops', 'process_drops'] as const;
export type Measure = (typeof Measures)[number];

/** Defaults and the operator's bound on the capture ring. */
export const Defaults = { snaplen: 128, bufferMb: 32, maxBufferMb: 128, port: 80, top: 10, maxHosts: 4096 } as const;

/** The schema of a pcap indicator's source; `bufferMb` is bounded by the configured maximum. */
export function pcapParams(maxBufferMb: number = Defaults.maxBufferMb) {
  return Type.Object(
    {
      interface: Type.String({ minLength: 1, maxLength: 15, pattern: '^[^\\s/:]+$', description: 'interface to capture on (lo, eth0, any …)' }),
      kind: Type.Optional(Type.Union(Object.keys(Kinds).map((k) => Type.Literal(k as Kind)), { description: 'a ready-made indicator (default total)' })),
      filter: Type.Optional(Type.String({ maxLength: 4096, description: 'a BPF filter (tcpdump syntax), ANDed with the kind' })),
      port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'for kind port (default 80)' })),
      measure: Type.Union(
        Measures.map((m) => Type.Literal(m)),
        { description: 'packets, bytes (on the wire), pps, bps over the window; kernel_drops (ring full), process_drops (not analysed) of the capture' },
      ),
      top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'top_talkers: sources reported (default 10); the rest is "other"' })),
      maxHosts: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, description: 'top_talkers: sources tracked per window (default 4096)' })),
      bufferMb: Type.Optional(Type.Integer({ minimum: 1, maximum: maxBufferMb, description: `kernel ring size (default ${Defaults.bufferMb})` })),
      snaplen: Type.Optional(Type.Integer({ minimum: 64, maximum: 262144, description: `bytes kept per packet for the filters (default ${Defaults.snaplen})` })),
      promiscuous: Type.Optional(Type.Boolean({ description: 'see traffic not addressed to this host (a mirror port)' })),
    },
    { additionalProperties: false },
  );
}
/** The parameters of a pcap indicator. */
export const PcapParams = pcapParams();
export type PcapParams = Static<typeof PcapParams>;

/** The BPF filter an indicator counts with: its kind's filter ANDed with its own. */
export function filterOf(p: Pick<PcapParams, 'kind' | 'filter' | 'port'>): string {
  const kind = p.kind === 'port' ? `port ${p.port ?? Defaults.port}` : Kinds[p.kind ?? 'total'];
  const parts = [kind, p.filter?.trim() ?? ''].filter((s) => s.length > 0);
  return parts.length > 1 ? parts.map((s) => `(${s})`).join(' and ') : (parts[0] ?? '');
}
