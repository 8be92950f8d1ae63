export * from './api.js';
export * from './heartbeat.js';
