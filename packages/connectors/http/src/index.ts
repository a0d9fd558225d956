/** @probemesh/connector-http — HTTP/REST: a value by JSON path, or status, latency and body size. (work in progress) */
export {};
