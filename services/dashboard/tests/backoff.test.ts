import { describe, expect, it } from 'vitest';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelay } from '../src/backoff';

const lowest = (): number => 0;
const highest = (): number => 0.999_999;

describe('backoffDelay', () => {
  it('doubles its ceiling per attempt, starting at the base', () => {
    expect(backoffDelay(1, highest)).toBe(BACKOFF_BASE_MS);
    expect(backoffDelay(2, highest)).toBe(2 * BACKOFF_BASE_MS);
    expect(backoffDelay(3, highest)).toBe(4 * BACKOFF_BASE_MS);
  });

  it('jitters within the upper half of the ceiling', () => {
    expect(backoffDelay(3, lowest)).toBe(2 * BACKOFF_BASE_MS);
    expect(backoffDelay(3, () => 0.5)).toBe(3 * BACKOFF_BASE_MS);
  });

  it('never waits longer than the cap, however many attempts', () => {
    expect(backoffDelay(5, highest)).toBe(16 * BACKOFF_BASE_MS);
    for (const attempt of [6, 7, 10, 100, 10_000]) {
      expect(backoffDelay(attempt, highest)).toBeLessThanOrEqual(BACKOFF_CAP_MS);
      expect(backoffDelay(attempt, lowest)).toBe(BACKOFF_CAP_MS / 2);
    }
    expect(BACKOFF_CAP_MS).toBe(30_000);
  });

  it('stays within bounds with Math.random and odd input', () => {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const delay = backoffDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(BACKOFF_BASE_MS / 2);
      expect(delay).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    }
    expect(backoffDelay(1, () => 7)).toBe(BACKOFF_BASE_MS);
  });
});
