/** @probemesh/connector-icmp — reachability, round-trip time and loss over ICMP echo. */
export { icmpConnector, parsePing, IcmpParams, type PingResult } from './connector.js';
