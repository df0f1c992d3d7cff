/** The API server's HTTP endpoints the dashboard reads (besides the `/ws` WebSocket). */

import { type Aggregate, validateAggregate } from './contract';

export const HISTORY_PATH = 'api/history';
export const HISTORY_TIMEOUT_MS = 10_000;

export type HistoryResult =
  /** The windows of the coin, oldest first, and why any record was dropped. */
  | { readonly kind: 'ok'; readonly records: readonly Aggregate[]; readonly problems: readonly string[] }
  /** 404: this API server has no history endpoint (or knows no such coin); the chart fills live. */
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed'; readonly reason: string };

export function historyUrl(apiUrl: string, coinId: string): string {
  const url = new URL(HISTORY_PATH, apiUrl);
  url.searchParams.set('coin', coinId);
  return url.href;
}

/** Check a `GET /api/history` body: `{"coin_id": "<id>", "data": [Aggregate, ...]}`. */
export function parseHistory(body: unknown, coinId: string): HistoryResult {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { data?: unknown }).data)) {
    return { kind: 'failed', reason: 'the body has no data list' };
  }
  const records: Aggregate[] = [];
  const problems: string[] = [];
  for (const item of (body as { data: unknown[] }).data) {
    const checked = validateAggregate(item);
    if (typeof checked === 'string') problems.push(`dropped ${checked}`);
    else if (checked.coin_id !== coinId) problems.push(`dropped a record of ${checked.coin_id}, not ${coinId}`);
    else records.push(checked);
  }
  return { kind: 'ok', records, problems };
}

/**
 * Fetch one coin's history. Never throws: a failure is a result that says what went wrong.
 * `signal` cancels it (the dashboard was stopped); it also gives up after {@link HISTORY_TIMEOUT_MS}.
 */
export async function fetchHistory(
  apiUrl: string,
  coinId: string,
  fetchFn: typeof fetch = fetch,
  signal?: AbortSignal,
): Promise<HistoryResult> {
  const url = historyUrl(apiUrl, coinId);
  // One signal for both the caller's cancel and the timeout (AbortSignal.any is too new to rely on).
  const cancel = new AbortController();
  const timer = setTimeout(() => cancel.abort(new Error(`no answer within ${HISTORY_TIMEOUT_MS / 1000} s`)), HISTORY_TIMEOUT_MS);
  const onAbort = (): void => cancel.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await fetchFn(url, {
      cache: 'no-store',
      headers: { accept: 'application/json' },
      signal: cancel.signal,
    });
    if (response.status === 404) return { kind: 'missing' };
    if (!response.ok) return { kind: 'failed', reason: `${url} answered ${response.status}` };
    return parseHistory(await response.json(), coinId);
  } catch (error) {
    return { kind: 'failed', reason: `${url}: ${String(error)}` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
