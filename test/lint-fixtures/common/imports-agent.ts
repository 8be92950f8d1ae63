import { plan } from '../../../agent/core/plan.js';
export const x = plan;
