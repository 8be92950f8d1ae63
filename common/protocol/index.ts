export * from './control.js';
