export * from './store.js';
export * from './health.js';
export * from './bridge.js';
export * from './mirror-history.js';
