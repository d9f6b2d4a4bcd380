// Human units for sizes, rates, durations and times. Binary units (KiB, MiB,
// GiB) because model files are sized in them; one decimal below 10, none above,
// so numbers keep their width while they change.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** `1536` → `"1.5 KiB"`, `0` → `"0 B"`. */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${value} B`;
  const digits = value < 10 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** Bytes per second as `"12 MiB/s"`. */
export function rate(bytesPerSec: number): string {
  return `${bytes(bytesPerSec)}/s`;
}

/** `3725` seconds → `"1 h 2 min"`; under a minute → `"42 s"`. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/** Time left at the current rate, or `null` when it cannot be told. */
export function eta(done: number, total: number, bytesPerSec: number): number | null {
  if (bytesPerSec <= 0 || total <= done) return null;
  return (total - done) / bytesPerSec;
}

/** `"3 min ago"`, `"yesterday"`, `"in 2 h"`: the time relative to `now`. */
export function relativeTime(thenMs: number, nowMs: number = Date.now()): string {
  const diff = Math.round((thenMs - nowMs) / 1000);
  const abs = Math.abs(diff);
  const fmt = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  if (abs < 45) return 'just now';
  if (abs < 45 * 60) return fmt.format(Math.round(diff / 60), 'minute');
  if (abs < 22 * 3600) return fmt.format(Math.round(diff / 3600), 'hour');
  if (abs < 26 * 86400) return fmt.format(Math.round(diff / 86400), 'day');
  if (abs < 320 * 86400) return fmt.format(Math.round(diff / (30 * 86400)), 'month');
  return fmt.format(Math.round(diff / (365 * 86400)), 'year');
}

/** `n` things with the right plural: `count(1, 'file')` → `"1 file"`. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** Percentage 0–100 with one decimal, clamped; `null` when total is 0. */
export function percent(done: number, total: number): number | null {
  if (total <= 0) return null;
  return Math.min(100, Math.max(0, Math.floor((done / total) * 1000) / 10));
}

/** The first 12 hex characters of a SHA-256, enough to tell two apart on screen. */
export function shortHash(hex: string | null | undefined): string {
  return hex ? hex.slice(0, 12) : '—';
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** `today 02:00`, `tomorrow 02:00`, `Sat 01:00` (within a week), else `2026-12-12 01:00`; local time. */
export function whenLabel(iso: string, now: Date = new Date()): string {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  const hm = `${pad(when.getHours())}:${pad(when.getMinutes())}`;
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(when) - day(now)) / 86_400_000);
  if (days === 0) return `today ${hm}`;
  if (days === 1) return `tomorrow ${hm}`;
  if (days > 1 && days < 7) return `${WEEKDAYS[when.getDay()]} ${hm}`;
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ${hm}`;
}
