import { parseDuration } from '../../../../common/config/duration.js';
export const x = parseDuration;
