/**
 * Per-coin history: one record per event-time window (its newest state), oldest first, for the
 * candle chart and the sparklines. Fed by `GET /api/history` on load and by every live update.
 *
 * Pure functions over immutable maps and arrays; a merge that changes nothing returns what it
 * was given, so callers can skip a re-render with `next === previous`.
 */

import { type Aggregate, timestampMillis } from './contract';
import { supersedes } from './market';

/** Windows kept per coin: an hour of the default 30 s windows. */
export const HISTORY_LIMIT = 120;

export type HistoryState = ReadonlyMap<string, readonly Aggregate[]>;

export const EMPTY_HISTORY: HistoryState = new Map();

/** One window as a candle: `time` is the window start in epoch seconds (what the chart reads). */
export interface Candle {
  readonly time: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
}

export function candleOf(record: Aggregate): Candle {
  return {
    time: Math.floor(timestampMillis(record.window_start) / 1000),
    open: record.open,
    high: record.high,
    low: record.low,
    close: record.close,
  };
}

export function candlesOf(records: readonly Aggregate[]): Candle[] {
  return records.map(candleOf);
}

/** Index of the first record whose window starts at or after `start` (binary search). */
function lowerBound(records: readonly Aggregate[], start: number): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const record = records[middle];
    if (record !== undefined && timestampMillis(record.window_start) < start) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Put `record` in its window's place: a new window is inserted in order, a newer state of a known
 * window replaces it, an older state is ignored. Returns `records` itself when nothing changed.
 */
export function upsertWindow(records: readonly Aggregate[], record: Aggregate): readonly Aggregate[] {
  const start = timestampMillis(record.window_start);
  if (Number.isNaN(start)) return records;
  const last = records.at(-1);
  // The common case: the live window grows, or the next one opens.
  if (last === undefined || start > timestampMillis(last.window_start)) return [...records, record];
  const index = lowerBound(records, start);
  const current = records[index];
  if (current !== undefined && timestampMillis(current.window_start) === start) {
    if (current === record || !supersedes(record, current)) return records;
    const next = records.slice();
    next[index] = record;
    return next;
  }
  const next = records.slice();
  next.splice(index, 0, record);
  return next;
}

/** Fold records of any coins, windows and order into the history, keeping `limit` windows a coin. */
export function mergeHistory(
  state: HistoryState,
  records: readonly Aggregate[],
  limit: number = HISTORY_LIMIT,
): HistoryState {
  let next: Map<string, readonly Aggregate[]> | null = null;
  for (const record of records) {
    const current = (next ?? state).get(record.coin_id) ?? [];
    let merged = upsertWindow(current, record);
    if (merged === current) continue;
    if (merged.length > limit) merged = merged.slice(merged.length - limit);
    next ??= new Map(state);
    next.set(record.coin_id, merged);
  }
  return next ?? state;
}

/** Length of the windows in milliseconds, read from a record (`window_end - window_start`). */
export function windowMillis(record: Aggregate): number | null {
  const length = timestampMillis(record.window_end) - timestampMillis(record.window_start);
  return Number.isFinite(length) && length > 0 ? length : null;
}
