import { describe, expect, it } from 'vitest';
import type { Aggregate } from '../src/contract';
import { candleOf, candlesOf, EMPTY_HISTORY, mergeHistory, upsertWindow, windowMillis } from '../src/history';
import { aggregate, BITCOIN, ETHEREUM } from './fixtures';

/** BITCOIN's window `n` windows later (the fixtures' windows are 60 s long). */
function nth(n: number, overrides: Partial<Aggregate> = {}): Aggregate {
  const shift = (iso: string): string => new Date(Date.parse(iso) + n * 60_000).toISOString();
  return aggregate({
    window_start: shift(BITCOIN.window_start),
    window_end: shift(BITCOIN.window_end),
    timestamp: shift(BITCOIN.timestamp),
    ...overrides,
  });
}

const starts = (records: readonly Aggregate[] | undefined): string[] => (records ?? []).map((r) => r.window_start);

describe('candles', () => {
  it('are the OHLC of a window, timed by its start in epoch seconds', () => {
    expect(candleOf(BITCOIN)).toEqual({
      time: Date.parse('2026-11-28T17:00:00.000Z') / 1000,
      open: 96_400,
      high: 96_600.5,
      low: 96_350.25,
      close: 96_512.4,
    });
    expect(candlesOf([BITCOIN, nth(1)]).map((candle) => candle.time)).toEqual([1_795_885_200, 1_795_885_260]);
  });

  it('know their window length', () => {
    expect(windowMillis(BITCOIN)).toBe(60_000);
    expect(windowMillis(aggregate({ window_end: BITCOIN.window_start }))).toBeNull();
  });
});

describe('upsertWindow', () => {
  it('appends the next window and replaces the live one with its newer state', () => {
    const one = upsertWindow([], BITCOIN);
    const grown = upsertWindow(one, nth(0, { timestamp: '2026-11-28T17:00:50.000Z', close: 1 }));
    expect(grown).toHaveLength(1);
    expect(grown[0]?.close).toBe(1);
    const two = upsertWindow(grown, nth(1));
    expect(starts(two)).toEqual([BITCOIN.window_start, nth(1).window_start]);
  });

  it('puts a late or backfilled window in its place and ignores an older state', () => {
    const records = [nth(0), nth(2)];
    expect(starts(upsertWindow(records, nth(1)))).toEqual(starts([nth(0), nth(1), nth(2)]));
    expect(starts(upsertWindow(records, nth(-1)))).toEqual(starts([nth(-1), nth(0), nth(2)]));
    const stale = nth(2, { timestamp: nth(2).window_start, close: 5 });
    expect(upsertWindow(records, stale)).toBe(records);
    expect(upsertWindow(records, records[1] as Aggregate)).toBe(records);
  });
});

describe('mergeHistory', () => {
  it('keeps each coin apart, oldest window first, from records in any order', () => {
    const state = mergeHistory(EMPTY_HISTORY, [nth(2), ETHEREUM, nth(0), nth(1)]);
    expect(starts(state.get('bitcoin'))).toEqual(starts([nth(0), nth(1), nth(2)]));
    expect(state.get('ethereum')).toEqual([ETHEREUM]);
  });

  it('keeps only the newest windows, up to the limit', () => {
    const state = mergeHistory(EMPTY_HISTORY, [0, 1, 2, 3, 4].map((n) => nth(n)), 3);
    expect(starts(state.get('bitcoin'))).toEqual(starts([nth(2), nth(3), nth(4)]));
  });

  it('returns the same state when nothing changed, and never mutates its input', () => {
    const state = mergeHistory(EMPTY_HISTORY, [BITCOIN]);
    expect(mergeHistory(state, [BITCOIN])).toBe(state);
    expect(mergeHistory(state, [])).toBe(state);
    const next = mergeHistory(state, [nth(1)]);
    expect(state.get('bitcoin')).toHaveLength(1);
    expect(next.get('bitcoin')).toHaveLength(2);
  });

  it('lets a live record and a backfilled copy of the same window meet in either order', () => {
    const live = nth(0, { timestamp: '2026-11-28T17:00:55.000Z', close: 7 });
    const backfilledFirst = mergeHistory(mergeHistory(EMPTY_HISTORY, [BITCOIN]), [live]);
    const liveFirst = mergeHistory(mergeHistory(EMPTY_HISTORY, [live]), [BITCOIN]);
    expect(backfilledFirst.get('bitcoin')).toEqual([live]);
    expect(liveFirst.get('bitcoin')).toEqual([live]);
  });
});
