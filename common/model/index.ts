export * from './ids.js';
export * from './resource.js';
export * from './heartbeat.js';
export * from './plan.js';
export * from './events.js';
export * from './status.js';
export * from './mirror.js';
export * from './auth.js';
