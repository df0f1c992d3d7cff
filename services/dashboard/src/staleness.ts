/**
 * When the data on screen stops being live.
 *
 * Age is measured on the reader's own clock from when the newest data *arrived*, never from its
 * event time: a reader's clock that is off, or a source whose timestamps lag (CoinGecko's
 * `last_updated`), cannot make a live screen look stale or a dead one look live.
 */

/** Window length assumed until a record says otherwise (the stream job's default). */
export const DEFAULT_WINDOW_MS = 30_000;
/** Data turns stale when it is older than this many windows. */
export const STALE_AFTER_WINDOWS = 2;
/** Never call data stale sooner than this, however short the windows. */
export const MIN_STALE_AFTER_MS = 10_000;

/** Data older than this is stale: two windows (60 s for the default 30 s windows). */
export function staleAfterMs(windowMs: number | null = DEFAULT_WINDOW_MS): number {
  const window = windowMs !== null && Number.isFinite(windowMs) && windowMs > 0 ? windowMs : DEFAULT_WINDOW_MS;
  return Math.max(MIN_STALE_AFTER_MS, STALE_AFTER_WINDOWS * window);
}

/** Whether data that arrived at `since` is stale at `now`. */
export function isStale(since: number, now: number, staleAfter: number = staleAfterMs()): boolean {
  return now - since > staleAfter;
}

/** "4 s", "1 min 05 s", "2 h 03 min": the age of data for the status line. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
}
