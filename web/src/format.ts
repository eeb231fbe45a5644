import { lang, t, type Key } from './i18n.js';

const UNITS: Key[] = ['unitB', 'unitKB', 'unitMB', 'unitGB', 'unitTB'];

/** 1536 -> "1.5 KB" (binary multiples, as file managers show them). */
export function bytes(count: number): string {
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(lang(), { maximumFractionDigits: digits }).format(value)} ${t(UNITS[unit]!)}`;
}

/** Seconds as "12 s", "4 min", "2 h 5 min". */
export function duration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return t('seconds', { n: s });
  if (s < 3600) return t('minutes', { n: Math.round(s / 60) });
  return t('hours', { h: Math.floor(s / 3600), m: Math.round((s % 3600) / 60) });
}

export function percent(part: number, whole: number): string {
  const ratio = whole > 0 ? part / whole : 1;
  return new Intl.NumberFormat(lang(), { style: 'percent', maximumFractionDigits: 0 }).format(Math.min(1, ratio));
}

export function dateTime(iso: string): string {
  return new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}
