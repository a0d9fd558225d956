/** @probemesh/connector-syslog — counts, rates and last text of matching syslog messages over UDP and TCP. */
export { syslogConnector, compileFilter, SyslogParams } from './connector.js';
export { parseSyslog, FACILITIES, SEVERITIES, RejectReason, type SyslogMessage, type Facility, type Severity } from './parse.js';
export { Framer } from './framing.js';
export { MAX_TCP_CONNECTIONS } from './listener.js';
