import { describe, expect, it } from 'vitest';
import { bytes, count, duration, eta, percent, rate, relativeTime, shortHash, whenLabel } from './format';

describe('bytes', () => {
  it('uses binary units with one decimal below ten', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1023)).toBe('1023 B');
    expect(bytes(1536)).toBe('1.5 KiB');
    expect(bytes(24 * 1024)).toBe('24 KiB');
    expect(bytes(4.7 * 1024 ** 3)).toBe('4.7 GiB');
    expect(bytes(1024 ** 5 * 3)).toBe('3.0 PiB');
  });
  it('shows a dash for nonsense', () => {
    expect(bytes(-1)).toBe('—');
    expect(bytes(Number.NaN)).toBe('—');
  });
});

describe('rates, durations and ETA', () => {
  it('formats a rate per second', () => expect(rate(12 * 1024 ** 2)).toBe('12 MiB/s'));
  it('formats durations from seconds to hours', () => {
    expect(duration(42)).toBe('42 s');
    expect(duration(125)).toBe('2 min 5 s');
    expect(duration(3725)).toBe('1 h 2 min');
  });
  it('has no ETA without a rate or when done', () => {
    expect(eta(0, 100, 0)).toBeNull();
    expect(eta(100, 100, 10)).toBeNull();
    expect(eta(50, 100, 10)).toBe(5);
  });
  it('clamps percentages and refuses a zero total', () => {
    expect(percent(1, 3)).toBe(33.3);
    expect(percent(5, 3)).toBe(100);
    expect(percent(0, 0)).toBeNull();
  });
});

describe('relativeTime', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  it('says just now, minutes, hours and days', () => {
    expect(relativeTime(now - 10_000, now)).toBe('just now');
    expect(relativeTime(now - 3 * 60_000, now)).toBe('3 minutes ago');
    expect(relativeTime(now - 2 * 3_600_000, now)).toBe('2 hours ago');
    expect(relativeTime(now - 86_400_000, now)).toBe('yesterday');
    expect(relativeTime(now + 2 * 3_600_000, now)).toBe('in 2 hours');
  });
});

describe('whenLabel', () => {
  it('says today, tomorrow, the weekday within a week, else the date (local time)', () => {
    const now = new Date(2026, 11, 2, 20, 0); // Wednesday
    expect(whenLabel(new Date(2026, 11, 2, 22, 0).toISOString(), now)).toBe('today 22:00');
    expect(whenLabel(new Date(2026, 11, 3, 2, 0).toISOString(), now)).toBe('tomorrow 02:00');
    expect(whenLabel(new Date(2026, 11, 5, 1, 0).toISOString(), now)).toBe('Sat 01:00');
    expect(whenLabel(new Date(2026, 11, 12, 1, 0).toISOString(), now)).toBe('2026-12-12 01:00');
  });
});

describe('small helpers', () => {
  it('pluralises', () => {
    expect(count(1, 'file')).toBe('1 file');
    expect(count(2, 'file')).toBe('2 files');
  });
  it('shortens hashes', () => {
    expect(shortHash('a'.repeat(64))).toBe('aaaaaaaaaaaa');
    expect(shortHash(null)).toBe('—');
  });
});
