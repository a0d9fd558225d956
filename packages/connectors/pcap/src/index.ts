/** @probemesh/connector-pcap — packet and byte counters per BPF filter from a continuous libpcap capture. */
export { pcapConnector, createPcapConnector, type PcapOptions } from './connector.js';
export { PcapParams, pcapParams, filterOf, Kinds, Measures, Defaults, type Kind, type Measure } from './schema.js';
