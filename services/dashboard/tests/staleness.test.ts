import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WINDOW_MS,
  formatAge,
  isStale,
  MIN_STALE_AFTER_MS,
  STALE_AFTER_WINDOWS,
  staleAfterMs,
} from '../src/staleness';

describe('staleAfterMs', () => {
  it('is two windows: 60 s for the default 30 s windows', () => {
    expect(STALE_AFTER_WINDOWS).toBe(2);
    expect(staleAfterMs()).toBe(60_000);
    expect(staleAfterMs(DEFAULT_WINDOW_MS)).toBe(60_000);
    expect(staleAfterMs(120_000)).toBe(240_000);
  });

  it('never drops below a floor, and ignores nonsense window lengths', () => {
    expect(staleAfterMs(1_000)).toBe(MIN_STALE_AFTER_MS);
    expect(staleAfterMs(null)).toBe(60_000);
    expect(staleAfterMs(0)).toBe(60_000);
    expect(staleAfterMs(Number.NaN)).toBe(60_000);
  });
});

describe('isStale', () => {
  it('turns stale only once the data is older than the limit', () => {
    expect(isStale(1_000, 61_000)).toBe(false);
    expect(isStale(1_000, 61_001)).toBe(true);
    expect(isStale(0, 20_001, 20_000)).toBe(true);
  });
});

describe('formatAge', () => {
  it('reads as seconds, then minutes, then hours', () => {
    expect(formatAge(-5)).toBe('0 s');
    expect(formatAge(4_999)).toBe('4 s');
    expect(formatAge(65_000)).toBe('1 min 05 s');
    expect(formatAge(2 * 3_600_000 + 3 * 60_000)).toBe('2 h 03 min');
  });
});
