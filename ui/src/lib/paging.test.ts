import { describe, expect, it } from 'vitest';
import { MAX_PER_PAGE, pageLayout } from './paging';

// The kiosk's font size at each screen: clamp(16px, min(2.4vw, 3.6vh), 64px).
const font = (w: number, h: number) => Math.min(64, Math.max(16, Math.min(0.024 * w, 0.036 * h)));

describe('pageLayout', () => {
  it('fits two columns on an 800×480 panel and never more than 12 tiles anywhere', () => {
    const small = pageLayout(760, 330, font(800, 480));
    expect(small.columns).toBe(2);
    expect(small.perPage).toBeGreaterThanOrEqual(4);
    for (const [w, h] of [[1280, 800], [1920, 1080], [3840, 2160], [7680, 4320]] as const) {
      const l = pageLayout(w * 0.95, h * 0.75, font(w, h));
      expect(l.perPage).toBeLessThanOrEqual(MAX_PER_PAGE);
      expect(l.perPage).toBeGreaterThanOrEqual(6);
      expect(l.perPage).toBe(l.columns * l.rows);
    }
  });

  it('keeps the tiles inside the area it was given', () => {
    for (const [w, h] of [[760, 330], [1200, 560], [1840, 800], [3700, 1600]] as const) {
      const f = font(w, h);
      const l = pageLayout(w, h, f);
      expect(l.rows * l.tileEm * f + (l.rows - 1) * 0.4 * f).toBeLessThanOrEqual(h);
      expect(l.columns * 15 * f + (l.columns - 1) * 0.4 * f).toBeLessThanOrEqual(w);
    }
  });

  it('shows a full page before the layout is known', () => {
    expect(pageLayout(0, 0, 16).perPage).toBe(MAX_PER_PAGE);
  });
});
