/** @probemesh/connector-http — HTTP/REST: a value by JSON path, or status, latency and body size of a request. */
export { createHttpConnector, httpConnector, restConnector } from './connector.js';
export { HttpParams, HttpDevice, HttpAuth, Measure } from './schema.js';
export { parsePath, evaluate, pathText, PathMiss, PATH_PATTERN, type Step, type Match } from './jsonpath.js';
