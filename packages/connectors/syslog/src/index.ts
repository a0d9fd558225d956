/** @probemesh/connector-syslog — counts, rates and last text of matching syslog messages over UDP and TCP. */
export { syslogConnector, createSyslogConnector, compileFilter, syslogParamsProblem, SyslogParams, type SyslogConnectorOptions } from './connector.js';
export { parseSyslog, FACILITIES, SEVERITIES, RejectReason, type SyslogMessage, type Facility, type Severity } from './parse.js';
export { Framer } from './framing.js';
export { TCP_LIMITS, type TcpLimits } from './listener.js';
