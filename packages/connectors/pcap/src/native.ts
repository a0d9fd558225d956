import { createRequire } from 'node:module';

/** An open capture (opaque native handle). */
export type Handle = { readonly __capture: unique symbol };

/** The capture addon (src/native/capture.cc), built into dist/capture.node. */
export interface Native {
  readonly libpcapVersion: string;
  /** Opens `iface` and starts its capture thread; throws with code ENODEV, EPERM, ENETDOWN or EPCAP. */
  open(iface: string, snaplen: number, bufferBytes: number, timeoutMs: number, promiscuous: boolean): Handle;
  /** Adds a counted filter ("" = every packet); maxHosts > 0 also keeps a per-source table. Throws EFILTER. */
  addFilter(h: Handle, expr: string, maxHosts: number): number;
  removeFilter(h: Handle, id: number): void;
  /** What the kernel lets into the ring. */
  setKernelFilter(h: Handle, expr: string): void;
  /** [seen, kernelDrops, ifDrops, processDrops, then id, packets, bytes per filter]; throws ECAPTURE if the thread ended. */
  counters(h: Handle): Float64Array;
  /** The window's top sources as [address, packets, bytes] (then "other"), and a fresh table. */
  takeHosts(h: Handle, id: number, top: number, byBytes: boolean): Array<[string, number, number]>;
  /** CPU time the capture thread has used, in ms. */
  cpuMs(h: Handle): number;
  close(h: Handle): void;
  info(h: Handle): { linktype: string; snaplen: number };
}

let native: Native | undefined;

/** Loads the addon once; says how to build it when it is missing. */
export function loadNative(): Native {
  if (native) return native;
  // ../dist/ from both src/ (tests under tsx) and dist/ (the build).
  const path = new URL('../dist/capture.node', import.meta.url).pathname;
  try {
    native = createRequire(import.meta.url)(path) as Native;
  } catch (err) {
    throw new Error(`pcap: cannot load the capture addon ${path} (${(err as Error).message.split('\n')[0]}); build it: apt-get install libpcap-dev && npx turbo run build`);
  }
  return native;
}

/** An error from the addon, with its code. */
export function codeOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}
