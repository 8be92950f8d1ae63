/** Sizes and rates as the mirrors screen shows them (binary units, which read the same in every language), and durations. */
import type { Translate } from '../../i18n/index.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Seconds as "45 s", "12 min 5 s" or "3 h 2 min": lag is read at a glance, not to the second after a minute. */
export function formatDuration(seconds: number, t: Translate): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return t('mirrors.seconds', { s });
  if (s < 3600) return t('mirrors.minutes', { m: Math.floor(s / 60), s: s % 60 });
  return t('mirrors.hours', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

export function formatTime(at: number, language: string): string {
  return new Date(at).toLocaleString(language, { hour12: false });
}
