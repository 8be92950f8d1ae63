import { Engine } from '../engine/engine.js';
export const x = Engine;
