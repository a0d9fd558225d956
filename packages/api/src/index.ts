/** @probemesh/api — the probe HTTP API: CRUD, queries, alerts (SSE), /metrics, /openapi.json. */
export { createApi, type ApiOptions } from './app.js';
export { serve, type Served } from './serve.js';
export { HttpError } from './errors.js';
export { prometheusText } from './metrics.js';
