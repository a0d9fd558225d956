/** @probemesh/demo — probemesh on simulated devices: the five-network data center and one probe alone. */
export { single } from './single.js';
export { simulateSite, UPS_OUTPUT_POWER_OID, type SimulatedSite } from './simulate.js';
export { datacenterConfigs, exampleLayout, facilityPowerW, itPowerW, server, serverTables, upsTables, sensorValue, simulateDatacenter, oids, NETWORKS, SERVERS, LEAF_NETWORKS, type MeshLayout } from './datacenter.js';
export { cli, up, writeConfig, writeConfigs, natsConfigs, startHubAndLeaf, type HubAndLeafOptions, type RunningMesh, type UpOptions } from './up.js';
export { upNetns, peakTraffic, type NetnsMesh, type NetnsNetwork, type NetnsUpOptions } from './netns.js';
export { researchConfigs, researchServer, siteFigures, serversOf, firstServer, net, mib, thresholds, siteStatics, CAPTURE_NETWORKS, UPS_NETWORK, UPS_SOURCE, FULL_DISK_SERVER, WEB_REQUEST_FILTER, type ResearchLayout } from './research.js';
export type { NetworkHosts } from './hosts.js';
