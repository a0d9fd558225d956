import { durationMs, type ProbeConfig } from '@probemesh/model';
import type { MeshOptions } from './node.js';

/** What a probe's config file says of its part in the mesh, as `MeshOptions`: partials it owes, children, streams, grace. */
export function meshSettings(config: ProbeConfig): Pick<MeshOptions, 'partials' | 'children' | 'streams' | 'graceMs'> {
  const { partials, children, streams, grace } = config.mesh ?? {};
  return {
    ...(partials ? { partials: { indicators: partials.indicators, windowMs: durationMs(partials.window), ...(config.group ? { group: config.group } : {}) } } : {}),
    ...(children ? { children } : {}),
    ...(streams
      ? {
          streams: {
            ...(streams.maxAge !== undefined ? { maxAgeMs: durationMs(streams.maxAge) } : {}),
            ...(streams.maxBytes !== undefined ? { maxBytes: streams.maxBytes } : {}),
            ...(streams.replicas !== undefined ? { replicas: streams.replicas } : {}),
          },
        }
      : {}),
    ...(grace !== undefined ? { graceMs: durationMs(grace) } : {}),
  };
}
