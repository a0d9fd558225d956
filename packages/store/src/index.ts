/** @probemesh/store — the LMDB value store: series, roll-ups, retention, the data-access query. */
export { Store, StoreError, NotNumericError, type StoreOptions, type SeriesSelector, type Aggregate } from './store.js';
