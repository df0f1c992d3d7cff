/** The market overview cards and the coin comparison bars, computed from the latest windows. */

import type { Aggregate } from './contract';

/** A coin "moves" when its 24 h change is at least this many percent either way. */
export const BIG_MOVE_PERCENT = 10;

export interface MarketOverview {
  readonly coins: number;
  /** Sum of the coins' 24 h volumes; null when no coin reports one. */
  readonly totalVolume: number | null;
  /** Sum of the coins' market caps; null when no coin reports one. */
  readonly totalMarketCap: number | null;
  /** Plain mean of the known 24 h changes (percent); null when no coin has one. */
  readonly averageChange: number | null;
  readonly gainers: number;
  readonly losers: number;
  /** Coins whose 24 h change is at least {@link BIG_MOVE_PERCENT} either way. */
  readonly bigMovers: number;
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  let total: number | null = null;
  for (const value of values) if (value !== null) total = (total ?? 0) + value;
  return total;
}

/** Gainers, losers and movers count only coins whose change is known. */
export function marketOverview(records: readonly Aggregate[]): MarketOverview {
  const changes = records.map((record) => record.change_24h).filter((change) => change !== null);
  return {
    coins: records.length,
    totalVolume: sumOrNull(records.map((record) => record.volume_24h)),
    totalMarketCap: sumOrNull(records.map((record) => record.market_cap)),
    averageChange: changes.length === 0 ? null : changes.reduce((a, b) => a + b, 0) / changes.length,
    gainers: changes.filter((change) => change > 0).length,
    losers: changes.filter((change) => change < 0).length,
    bigMovers: changes.filter((change) => Math.abs(change) >= BIG_MOVE_PERCENT).length,
  };
}

export interface ComparisonBar {
  readonly coinId: string;
  readonly coin: string;
  /** Null when the source does not know it: such bars come last, empty. */
  readonly change: number | null;
  /** Length of the bar as a fraction (0..1) of the largest move on screen. */
  readonly size: number;
}

/**
 * One bar per coin, largest gain first, each sized against the largest move on screen (so the
 * bars compare coins with each other, whatever the day's range); coins with an unknown change
 * last, with an empty bar.
 */
export function comparisonBars(records: readonly Aggregate[]): ComparisonBar[] {
  const known = records.map((record) => record.change_24h).filter((change) => change !== null);
  const largest = Math.max(0, ...known.map(Math.abs));
  const byCoin = (a: Aggregate, b: Aggregate): number => (a.coin < b.coin ? -1 : a.coin > b.coin ? 1 : 0);
  return [...records]
    .sort((a, b) => {
      if (a.change_24h === null || b.change_24h === null) {
        return a.change_24h === b.change_24h ? byCoin(a, b) : a.change_24h === null ? 1 : -1;
      }
      return b.change_24h - a.change_24h || byCoin(a, b);
    })
    .map((record) => ({
      coinId: record.coin_id,
      coin: record.coin,
      change: record.change_24h,
      size: largest === 0 || record.change_24h === null ? 0 : Math.abs(record.change_24h) / largest,
    }));
}
