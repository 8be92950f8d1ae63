export * from './control.js';
export * from './heartbeat.js';
