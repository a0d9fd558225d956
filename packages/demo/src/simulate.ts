import { startJsonDevice, startSnmpd, type Snmpd } from '@probemesh/testkit';

/** Devices the demo starts on loopback so it works on a fresh machine. */
export interface SimulatedSite {
  ups: Snmpd;
  meterUrl: string;
  stop(): Promise<void>;
}

/** UPS-MIB upsOutputPower.1 in watts: the IT load the simulated UPS reports. */
export const UPS_OUTPUT_POWER_OID = '1.3.6.1.2.1.33.1.4.4.1.4.1';

/**
 * Starts an snmpd answering UPS-MIB output power (`itPowerW`) and an HTTP meter whose facility
 * power drifts slowly around `facilityKw`, so PUE moves and the demo's alert fires and resolves.
 */
export async function simulateSite(opts: { itPowerW?: number; facilityKw?: number; swingKw?: number; periodS?: number } = {}): Promise<SimulatedSite> {
  const itPowerW = opts.itPowerW ?? 15000;
  const facilityKw = opts.facilityKw ?? 23;
  const swingKw = opts.swingKw ?? 2.5;
  const periodS = opts.periodS ?? 300;
  const ups = await startSnmpd({ overrides: [{ oid: UPS_OUTPUT_POWER_OID, type: 'integer', value: itPowerW }] });
  const meter = await startJsonDevice((path) => {
    if (path !== '/power') return undefined;
    const kw = facilityKw + swingKw * Math.sin((2 * Math.PI * Date.now()) / 1000 / periodS);
    return { facility: { power_kw: Math.round(kw * 1000) / 1000 } };
  });
  return {
    ups,
    meterUrl: meter.url,
    async stop() {
      await meter.stop();
      await ups.stop();
    },
  };
}
