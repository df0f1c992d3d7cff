/** Test data in the API server's wire format. */

import type { Aggregate } from '../src/contract';

const BASE: Aggregate = {
  coin: 'BTC',
  coin_id: 'bitcoin',
  name: 'Bitcoin',
  price: 96_512.4,
  open: 96_400,
  high: 96_600.5,
  low: 96_350.25,
  close: 96_512.4,
  mean_price: 96_480,
  samples: 6,
  change_24h: 2.35,
  volume_24h: 31_000_000_000,
  market_cap: 1_910_000_000_000,
  volatility: 'Moving',
  trend: 'Rising',
  window_start: '2026-11-28T17:00:00.000Z',
  window_end: '2026-11-28T17:01:00.000Z',
  timestamp: '2026-11-28T17:00:30.000Z',
  last_updated: '2026-11-28T17:00:29.000Z',
  window_open: true,
};

/**
 * `record` with `overrides`, kept within the contract where the test leaves it free: prices the
 * test set widen high and low; prices it did not set follow the close into [low, high]; a moved
 * window carries its timestamp along. A record the contract refuses is dropped by the parser, so
 * a test meaning to send one says so explicitly.
 */
export function consistent(record: Aggregate, overrides: Partial<Aggregate> = {}): Aggregate {
  const merged = { ...record, ...overrides };
  const set = (field: keyof Aggregate): boolean => overrides[field] !== undefined;
  const chosen = (['open', 'close', 'price', 'mean_price'] as const).filter(set).map((field) => merged[field]);
  const high = set('high') ? merged.high : Math.max(merged.high, ...chosen);
  const low = set('low') ? merged.low : Math.min(merged.low, ...chosen);
  const clamp = (value: number): number => Math.min(high, Math.max(low, value));
  const close = set('close') ? merged.close : clamp(merged.close);
  const start = Date.parse(merged.window_start);
  const moved = set('window_start');
  return {
    ...merged,
    high,
    low,
    close,
    open: set('open') ? merged.open : clamp(merged.open),
    price: set('price') ? merged.price : clamp(set('close') ? close : merged.price),
    mean_price: set('mean_price') ? merged.mean_price : clamp(merged.mean_price),
    window_end: set('window_end') || !moved ? merged.window_end : new Date(start + 60_000).toISOString(),
    timestamp: set('timestamp') || !moved ? merged.timestamp : new Date(start + 30_000).toISOString(),
  };
}

export function aggregate(overrides: Partial<Aggregate> = {}): Aggregate {
  return consistent(BASE, overrides);
}

export const BITCOIN = aggregate();
export const ETHEREUM = aggregate({
  coin: 'ETH',
  coin_id: 'ethereum',
  name: 'Ethereum',
  price: 3_412.07,
  open: 3_400,
  high: 3_420.5,
  low: 3_398.1,
  close: 3_412.07,
  mean_price: 3_410,
  change_24h: -1.2,
  market_cap: 410_000_000_000,
  volatility: 'Stable',
  trend: 'Stable',
});
export const DOGECOIN = aggregate({
  coin: 'DOGE',
  coin_id: 'dogecoin',
  name: 'Dogecoin',
  price: 0.38123,
  open: 0.38,
  high: 0.3831,
  low: 0.3795,
  close: 0.38123,
  mean_price: 0.381,
  change_24h: -6.4,
  volume_24h: null,
  market_cap: null,
  volatility: 'Volatile',
  trend: 'Crashing',
});

/** A text frame as the API server sends it. */
export function frame(type: string, data: readonly unknown[]): string {
  return JSON.stringify({ type, data });
}
