/** @probemesh/store — the LMDB value store: series, roll-ups, retention, the data-access query. */
export { StoreError, NotNumericError, StoreUnavailableError } from '@probemesh/core';
export { Store, type StoreOptions, type SeriesSelector, type Aggregate, type AppendListener } from './store.js';
