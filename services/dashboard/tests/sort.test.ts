import { describe, expect, it } from 'vitest';
import type { Aggregate } from '../src/contract';
import { DEFAULT_SORT, nextSort, SORT_KEYS, sortAggregates, type SortState } from '../src/sort';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM } from './fixtures';

const ids = (records: readonly Aggregate[]): string[] => records.map((record) => record.coin_id);
const ALL = [DOGECOIN, ETHEREUM, BITCOIN];

describe('sortAggregates', () => {
  it('lists the largest market cap first by default, unknown caps last', () => {
    expect(ids(sortAggregates(ALL, DEFAULT_SORT))).toEqual(['bitcoin', 'ethereum', 'dogecoin']);
    expect(ids(sortAggregates(ALL, { key: 'market_cap', direction: 'asc' }))).toEqual([
      'ethereum',
      'bitcoin',
      'dogecoin',
    ]);
  });

  it('sorts numbers numerically and text alphabetically', () => {
    expect(ids(sortAggregates(ALL, { key: 'price', direction: 'asc' }))).toEqual(['dogecoin', 'ethereum', 'bitcoin']);
    expect(ids(sortAggregates(ALL, { key: 'change_24h', direction: 'desc' }))).toEqual([
      'bitcoin',
      'ethereum',
      'dogecoin',
    ]);
    expect(ids(sortAggregates(ALL, { key: 'name', direction: 'asc' }))).toEqual(['bitcoin', 'dogecoin', 'ethereum']);
    expect(ids(sortAggregates(ALL, { key: 'coin', direction: 'desc' }))).toEqual(['ethereum', 'dogecoin', 'bitcoin']);
  });

  it('orders labels by severity, not alphabetically', () => {
    const byTrend = sortAggregates(ALL, { key: 'trend', direction: 'desc' });
    expect(byTrend.map((record) => record.trend)).toEqual(['Rising', 'Stable', 'Crashing']);
    const byVolatility = sortAggregates(ALL, { key: 'volatility', direction: 'desc' });
    expect(byVolatility.map((record) => record.volatility)).toEqual(['Volatile', 'Moving', 'Stable']);
  });

  it('puts coins whose change is unknown last, whichever the direction', () => {
    const unknown = aggregate({ coin: 'NEW', coin_id: 'new-listing', change_24h: null, volatility: null, trend: null });
    for (const key of ['change_24h', 'volatility', 'trend'] as const) {
      for (const direction of ['asc', 'desc'] as const) {
        expect(ids(sortAggregates([unknown, ...ALL], { key, direction })).at(-1)).toBe('new-listing');
      }
    }
  });

  it('breaks ties by symbol so rows keep their place', () => {
    const a = aggregate({ coin: 'AAA', coin_id: 'a' });
    const b = aggregate({ coin: 'BBB', coin_id: 'b' });
    for (const direction of ['asc', 'desc'] as const) {
      expect(ids(sortAggregates([b, a], { key: 'price', direction }))).toEqual(['a', 'b']);
    }
  });

  it('copies rather than sorting in place, for every key', () => {
    for (const key of SORT_KEYS) {
      const input = [...ALL];
      expect(sortAggregates(input, { key, direction: 'asc' })).toHaveLength(3);
      expect(input).toEqual(ALL);
    }
  });
});

describe('nextSort', () => {
  it('flips the direction of the active column', () => {
    const asc: SortState = { key: 'price', direction: 'asc' };
    expect(nextSort(asc, 'price')).toEqual({ key: 'price', direction: 'desc' });
    expect(nextSort(nextSort(asc, 'price'), 'price')).toEqual(asc);
  });

  it('starts text columns A to Z and numeric ones largest first', () => {
    expect(nextSort(DEFAULT_SORT, 'name')).toEqual({ key: 'name', direction: 'asc' });
    expect(nextSort(DEFAULT_SORT, 'change_24h')).toEqual({ key: 'change_24h', direction: 'desc' });
  });
});
