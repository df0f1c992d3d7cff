/**
 * Per-coin market state: the newest window of every coin, keyed by `coin_id`.
 *
 * Pure functions over an immutable map; a function that changes nothing returns the map it was
 * given, so callers can skip a re-render with `next === previous`.
 */

import { type Aggregate, timestampMillis } from './contract';

export type MarketState = ReadonlyMap<string, Aggregate>;

export const EMPTY_MARKET: MarketState = new Map();

/**
 * Whether `candidate` is at least as new as `current`: the later window wins, then the later
 * event time. An equal key also wins, so a re-sent record replaces its earlier copy, as on the
 * API server.
 */
export function supersedes(candidate: Aggregate, current: Aggregate): boolean {
  const byWindow = timestampMillis(candidate.window_start) - timestampMillis(current.window_start);
  if (byWindow !== 0) return byWindow > 0;
  return timestampMillis(candidate.timestamp) >= timestampMillis(current.timestamp);
}

/** Whether `candidate` carries news over `current`: a later window, or a later event time in it. */
export function isNewer(candidate: Aggregate, current: Aggregate | undefined): boolean {
  if (current === undefined) return true;
  const byWindow = timestampMillis(candidate.window_start) - timestampMillis(current.window_start);
  if (byWindow !== 0) return byWindow > 0;
  return timestampMillis(candidate.timestamp) > timestampMillis(current.timestamp);
}

/** Fold a batch of records (in any order, several per coin allowed) into the state. */
export function mergeRecords(state: MarketState, records: readonly Aggregate[]): MarketState {
  let next: Map<string, Aggregate> | null = null;
  for (const record of records) {
    const current = (next ?? state).get(record.coin_id);
    if (current !== undefined && (current === record || !supersedes(record, current))) continue;
    next ??= new Map(state);
    next.set(record.coin_id, record);
  }
  return next ?? state;
}

/** The state a snapshot describes: it replaces everything, so coins it lacks are dropped. */
export function fromSnapshot(records: readonly Aggregate[]): MarketState {
  return mergeRecords(EMPTY_MARKET, records);
}

/**
 * The state after a snapshot on reconnect: the snapshot decides which coins there are, and for
 * each the newer of its record and the one on screen wins (a replica that lags a little behind the
 * one the dashboard was reading must not turn the prices back).
 */
export function resync(state: MarketState, records: readonly Aggregate[]): MarketState {
  const fresh = fromSnapshot(records);
  const next = new Map<string, Aggregate>();
  for (const [coinId, record] of fresh) {
    const current = state.get(coinId);
    next.set(coinId, current !== undefined && !supersedes(record, current) ? current : record);
  }
  return next;
}

/** Event time of the newest record in the state, or null when it is empty. */
export function latestTimestamp(state: MarketState): string | null {
  let latest: string | null = null;
  let latestMillis = Number.NEGATIVE_INFINITY;
  for (const record of state.values()) {
    const millis = timestampMillis(record.timestamp);
    if (millis > latestMillis) {
      latest = record.timestamp;
      latestMillis = millis;
    }
  }
  return latest;
}
