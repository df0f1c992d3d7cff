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
};

export function aggregate(overrides: Partial<Aggregate> = {}): Aggregate {
  return { ...BASE, ...overrides };
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
