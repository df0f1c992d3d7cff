/** When the data on screen stops being live. */

/** The connection counts as stale after this long without a market message. */
export const STALE_AFTER_MS = 60_000;

/** Whether `now` is more than {@link STALE_AFTER_MS} after the last market message. */
export function isStale(lastDataAt: number, now: number): boolean {
  return now - lastDataAt > STALE_AFTER_MS;
}

/** Milliseconds from `now` until the data turns stale (at least 1, so a timer can wait for it). */
export function msUntilStale(lastDataAt: number, now: number): number {
  return Math.max(1, lastDataAt + STALE_AFTER_MS - now + 1);
}
