/** Sorting of the market table: which column, which way, and the comparator. */

import { type Aggregate, TREND_LABELS, VOLATILITY_LABELS } from './contract';

export const SORT_KEYS = [
  'coin',
  'name',
  'price',
  'change_24h',
  'high',
  'low',
  'market_cap',
  'volatility',
  'trend',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDirection = 'asc' | 'desc';

export interface SortState {
  readonly key: SortKey;
  readonly direction: SortDirection;
}

/** Largest coins first, as market sites list them. */
export const DEFAULT_SORT: SortState = { key: 'market_cap', direction: 'desc' };

const TEXT_KEYS: ReadonlySet<SortKey> = new Set(['coin', 'name']);

export function isSortKey(value: unknown): value is SortKey {
  return (SORT_KEYS as readonly unknown[]).includes(value);
}

/**
 * The sort after a click on `key`'s header: the same column flips direction; a new column starts
 * A→Z for text and largest-first for numbers and labels.
 */
export function nextSort(current: SortState, key: SortKey): SortState {
  if (current.key === key) return { key, direction: current.direction === 'asc' ? 'desc' : 'asc' };
  return { key, direction: TEXT_KEYS.has(key) ? 'asc' : 'desc' };
}

type SortValue = string | number | null;

function sortValue(record: Aggregate, key: SortKey): SortValue {
  switch (key) {
    case 'coin':
    case 'name':
    case 'price':
    case 'change_24h':
    case 'high':
    case 'low':
    case 'market_cap':
      return record[key];
    case 'volatility':
      return record.volatility === null ? null : VOLATILITY_LABELS.indexOf(record.volatility);
    case 'trend':
      return record.trend === null ? null : TREND_LABELS.indexOf(record.trend);
  }
}

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

function compareValues(a: SortValue, b: SortValue): number {
  if (typeof a === 'string' && typeof b === 'string') return collator.compare(a, b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return 0;
}

/**
 * A sorted copy. Missing values (a null market cap, an unknown change and its labels) go last
 * whichever the direction; ties fall
 * back to the symbol, then the id, so rows never swap places between renders.
 */
export function sortAggregates(records: Iterable<Aggregate>, sort: SortState): Aggregate[] {
  const sign = sort.direction === 'asc' ? 1 : -1;
  return [...records].sort((a, b) => {
    const left = sortValue(a, sort.key);
    const right = sortValue(b, sort.key);
    if (left === null || right === null) {
      if (left !== right) return left === null ? 1 : -1;
    } else {
      const order = compareValues(left, right) * sign;
      if (order !== 0) return order;
    }
    return collator.compare(a.coin, b.coin) || (a.coin_id < b.coin_id ? -1 : a.coin_id > b.coin_id ? 1 : 0);
  });
}
