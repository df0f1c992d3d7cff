/** Reconnect delays: exponential backoff with jitter, capped. */

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 30_000;

/**
 * Delay before reconnect attempt `attempt` (1 for the first retry).
 *
 * The ceiling doubles per attempt up to {@link BACKOFF_CAP_MS}; the delay is drawn uniformly from
 * the upper half of it ("equal jitter"), so a thousand dashboards dropped by one server restart
 * spread their reconnects out yet none retries in a tight loop. `random` returns a number in
 * [0, 1), like `Math.random`.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(exponent, 30));
  const jitter = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (jitter * ceiling) / 2);
}
