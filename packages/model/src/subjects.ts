/** Wire names of the mesh, defined once (DESIGN.md §3). */
export const subjects = {
  alert: (severity: string, probe: string, rule: string) => `pm.alert.${severity}.${probe}.${rule}`,
  alerts: 'pm.alert.>',
  partial: (probe: string, indicator: string) => `pm.partial.${probe}.${indicator}`,
  partialsOf: (probe: string) => `pm.partial.${probe}.*`,
  value: (probe: string, indicator: string) => `pm.value.${probe}.${indicator}`,
  query: (probe: string) => `pm.query.${probe}`,
  heartbeat: (probe: string) => `pm.hb.${probe}`,
  heartbeats: 'pm.hb.*',
} as const;

export const streams = { alerts: 'PM_ALERTS', partials: 'PM_PARTIALS' } as const;
export const buckets = { config: 'pm_config' } as const;
export const configKey = (probe: string) => `probe.${probe}`;
