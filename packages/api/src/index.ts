/** @probemesh/api — the probe HTTP API: CRUD, queries, alerts (SSE), /metrics, /openapi.json, all from one route table. */
export { createApi, type Api, type ApiOptions } from './app.js';
export { readTls, serve, type ServeOptions, type Served } from './serve.js';
export { HttpError } from './errors.js';
export { prometheusText } from './metrics.js';
export { ErrorBody } from './schemas.js';
export type { SseLimits, SseStats } from './sse.js';
export type { Access, Answer, Route } from './table.js';
