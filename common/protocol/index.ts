export * from './api.js';
export * from './heartbeat.js';
export * from './session.js';
