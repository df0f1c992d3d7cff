import { describe, expect, it } from 'vitest';
import { EMPTY_MARKET, fromSnapshot, isNewer, latestTimestamp, mergeRecords, resync, supersedes } from '../src/market';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM } from './fixtures';

const NEXT_WINDOW = {
  window_start: '2026-11-28T17:01:00.000Z',
  window_end: '2026-11-28T17:02:00.000Z',
  timestamp: '2026-11-28T17:01:10.000Z',
};

describe('supersedes', () => {
  it('prefers the later window, even when its event time is earlier', () => {
    const later = aggregate({ window_start: NEXT_WINDOW.window_start, timestamp: '2026-11-28T17:00:00.000Z' });
    expect(supersedes(later, BITCOIN)).toBe(true);
    expect(supersedes(BITCOIN, later)).toBe(false);
  });

  it('within one window prefers the later event time, and a re-sent record wins a tie', () => {
    const newer = aggregate({ timestamp: '2026-11-28T17:00:45.000Z' });
    expect(supersedes(newer, BITCOIN)).toBe(true);
    expect(supersedes(BITCOIN, newer)).toBe(false);
    expect(supersedes(aggregate(), BITCOIN)).toBe(true);
  });

  it('compares instants, not strings', () => {
    const sameInstant = aggregate({ window_start: '2026-11-28T18:00:00+01:00', timestamp: '2026-11-28T17:00:31Z' });
    expect(supersedes(sameInstant, BITCOIN)).toBe(true);
  });
});

describe('mergeRecords', () => {
  it('keeps one record per coin_id: the newest window', () => {
    const next = aggregate({ ...NEXT_WINDOW, price: 97_000 });
    const state = mergeRecords(EMPTY_MARKET, [next, BITCOIN, ETHEREUM]);
    expect([...state.keys()].sort()).toEqual(['bitcoin', 'ethereum']);
    expect(state.get('bitcoin')).toBe(next);
  });

  it('ignores a late record of an older window', () => {
    const current = mergeRecords(EMPTY_MARKET, [aggregate(NEXT_WINDOW)]);
    expect(mergeRecords(current, [BITCOIN])).toBe(current);
  });

  it('returns the same state when nothing changed and never mutates its input', () => {
    const state = fromSnapshot([BITCOIN]);
    expect(mergeRecords(state, [])).toBe(state);
    const merged = mergeRecords(state, [DOGECOIN]);
    expect(merged).not.toBe(state);
    expect(state.size).toBe(1);
    expect(merged.size).toBe(2);
  });
});

describe('fromSnapshot', () => {
  it('replaces the state, so coins missing from a resync disappear', () => {
    expect([...fromSnapshot([ETHEREUM]).keys()]).toEqual(['ethereum']);
    expect(fromSnapshot([]).size).toBe(0);
  });
});

describe('latestTimestamp', () => {
  it('is the newest event time, or null for no data', () => {
    expect(latestTimestamp(EMPTY_MARKET)).toBeNull();
    expect(latestTimestamp(fromSnapshot([BITCOIN, aggregate({ ...NEXT_WINDOW, coin_id: 'x' })]))).toBe(
      NEXT_WINDOW.timestamp,
    );
  });
});

describe('resync', () => {
  it('takes the coins of the snapshot, keeping whichever record of a coin is newer', () => {
    const onScreen = fromSnapshot([aggregate(NEXT_WINDOW), ETHEREUM]);
    const state = resync(onScreen, [BITCOIN, DOGECOIN]);
    expect([...state.keys()].sort()).toEqual(['bitcoin', 'dogecoin']);
    expect(state.get('bitcoin')?.window_start).toBe(NEXT_WINDOW.window_start);
    const newer = aggregate({ ...NEXT_WINDOW, timestamp: '2026-11-28T17:01:20.000Z' });
    expect(resync(onScreen, [newer]).get('bitcoin')).toBe(newer);
  });
});

describe('isNewer', () => {
  it('is strict: the same record again is no news', () => {
    expect(isNewer(BITCOIN, undefined)).toBe(true);
    expect(isNewer(BITCOIN, BITCOIN)).toBe(false);
    expect(isNewer(aggregate({ timestamp: '2026-11-28T17:00:31.000Z' }), BITCOIN)).toBe(true);
    expect(isNewer(aggregate(NEXT_WINDOW), BITCOIN)).toBe(true);
    expect(isNewer(BITCOIN, aggregate(NEXT_WINDOW))).toBe(false);
  });
});
