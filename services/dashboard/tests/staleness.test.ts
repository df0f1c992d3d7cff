import { describe, expect, it } from 'vitest';
import { isStale, msUntilStale, STALE_AFTER_MS } from '../src/staleness';

describe('staleness', () => {
  it('turns stale only after more than 60 s without data', () => {
    expect(STALE_AFTER_MS).toBe(60_000);
    expect(isStale(1_000, 1_000 + STALE_AFTER_MS)).toBe(false);
    expect(isStale(1_000, 1_001 + STALE_AFTER_MS)).toBe(true);
  });

  it('tells a timer how long to wait for it', () => {
    expect(msUntilStale(1_000, 1_000)).toBe(STALE_AFTER_MS + 1);
    expect(isStale(1_000, 1_000 + msUntilStale(1_000, 1_000))).toBe(true);
    expect(msUntilStale(0, 10 * STALE_AFTER_MS)).toBe(1);
  });
});
