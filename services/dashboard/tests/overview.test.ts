import { describe, expect, it } from 'vitest';
import { BIG_MOVE_PERCENT, comparisonBars, marketOverview } from '../src/overview';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM } from './fixtures';

// A new listing CoinGecko has no 24 h change for yet (price_change_percentage_24h: null).
const UNKNOWN = aggregate({ coin: 'NEW', coin_id: 'new-listing', change_24h: null, volatility: null, trend: null });

describe('marketOverview', () => {
  it('sums volumes and caps, averages the changes and counts gainers, losers and big movers', () => {
    const mover = aggregate({ coin_id: 'x', change_24h: -BIG_MOVE_PERCENT, volume_24h: 1, market_cap: 2 });
    expect(marketOverview([BITCOIN, ETHEREUM, DOGECOIN, mover])).toEqual({
      coins: 4,
      totalVolume: 31_000_000_000 * 2 + 1,
      totalMarketCap: 1_910_000_000_000 + 410_000_000_000 + 2,
      averageChange: (2.35 - 1.2 - 6.4 - 10) / 4,
      gainers: 1,
      losers: 3,
      bigMovers: 1,
    });
  });

  it('says nothing rather than zero when nothing is known', () => {
    expect(marketOverview([])).toMatchObject({ coins: 0, totalVolume: null, averageChange: null });
    expect(marketOverview([DOGECOIN])).toMatchObject({ totalVolume: null, totalMarketCap: null });
    expect(marketOverview([UNKNOWN])).toMatchObject({ coins: 1, averageChange: null, gainers: 0, losers: 0 });
  });

  it('averages and counts only the changes that are known', () => {
    expect(marketOverview([BITCOIN, UNKNOWN])).toMatchObject({ coins: 2, averageChange: 2.35, gainers: 1, losers: 0 });
  });
});

describe('comparisonBars', () => {
  it('orders coins by 24h change and sizes each bar against the largest move', () => {
    expect(comparisonBars([DOGECOIN, BITCOIN, ETHEREUM])).toEqual([
      { coinId: 'bitcoin', coin: 'BTC', change: 2.35, size: 2.35 / 6.4 },
      { coinId: 'ethereum', coin: 'ETH', change: -1.2, size: 1.2 / 6.4 },
      { coinId: 'dogecoin', coin: 'DOGE', change: -6.4, size: 1 },
    ]);
  });

  it('lists coins with an unknown change last, with an empty bar', () => {
    expect(comparisonBars([UNKNOWN, DOGECOIN, BITCOIN]).map((bar) => [bar.coinId, bar.change, bar.size])).toEqual([
      ['bitcoin', 2.35, 2.35 / 6.4],
      ['dogecoin', -6.4, 1],
      ['new-listing', null, 0],
    ]);
  });

  it('draws no bar when nothing moved', () => {
    expect(comparisonBars([aggregate({ change_24h: 0 })])[0]?.size).toBe(0);
    expect(comparisonBars([])).toEqual([]);
  });
});
