/**
 * Alerts on extreme moves, raised when a coin *enters* an extreme state (not on every update while
 * it stays there), with a cool-down per coin and kind so a coin hovering on a band edge does not
 * flood the list:
 *
 * - its trend turns `Surging` or `Crashing` (24 h change beyond ±5 %);
 * - its volatility rises to `High Volatility` or `Extreme` (24 h change beyond ±10 %);
 * - its price moves {@link WINDOW_MOVE_PERCENT} % or more within one window (open to close).
 *
 * Coins already in such a state when the dashboard opens raise their alert then.
 */

import { type Aggregate, timestampMillis, VOLATILITY_LABELS } from './contract';
import type { MarketState } from './market';

export const WINDOW_MOVE_PERCENT = 1;
/** The same alert for the same coin is not raised again within this much event time. */
export const ALERT_COOLDOWN_MS = 10 * 60_000;
/** Alerts kept on screen, newest first. */
export const ALERT_LIMIT = 50;

export type AlertKind = 'trend' | 'volatility' | 'window-move';

export interface MarketAlert {
  /** Unique per alert, stable for rendering. */
  readonly id: string;
  readonly kind: AlertKind;
  readonly coinId: string;
  readonly coin: string;
  /** The label entered (`Surging`, `Extreme`, ...) or, for a window move, null. */
  readonly label: string | null;
  /** Percent moved within the window (open to close). */
  readonly windowMove: number;
  readonly tone: 'up' | 'down';
  /** Null when the source does not know it (window-move alerts only). */
  readonly change24h: number | null;
  readonly price: number;
  /** Event time of the record that raised it (ISO 8601). */
  readonly at: string;
}

export interface AlertState {
  /** Newest first, at most {@link ALERT_LIMIT}. */
  readonly alerts: readonly MarketAlert[];
  /** Event time (ms) an alert was last raised, by `<kind>:<label>:<coin_id>`. */
  readonly raised: ReadonlyMap<string, number>;
}

export const EMPTY_ALERTS: AlertState = { alerts: [], raised: new Map() };

const WILD_VOLATILITY = VOLATILITY_LABELS.indexOf('High Volatility');

/** -1 when the volatility is unknown: an unknown is never an alert. */
function volatilityRank(record: Aggregate): number {
  return record.volatility === null ? -1 : VOLATILITY_LABELS.indexOf(record.volatility);
}

/** Percent moved within the record's window, open to close. */
export function windowMove(record: Pick<Aggregate, 'open' | 'close'>): number {
  return record.open > 0 ? (record.close / record.open - 1) * 100 : 0;
}

/** The alerts `record` raises given the coin's previous record (none at first sight). */
export function alertsFor(record: Aggregate, previous: Aggregate | undefined): Omit<MarketAlert, 'id'>[] {
  const move = windowMove(record);
  const base = {
    coinId: record.coin_id,
    coin: record.coin,
    change24h: record.change_24h,
    price: record.price,
    windowMove: move,
    at: record.timestamp,
  };
  const found: Omit<MarketAlert, 'id'>[] = [];
  if ((record.trend === 'Surging' || record.trend === 'Crashing') && previous?.trend !== record.trend) {
    const tone = record.trend === 'Surging' ? 'up' : 'down';
    found.push({ ...base, kind: 'trend', label: record.trend, tone });
  }
  const rank = volatilityRank(record);
  if (rank >= WILD_VOLATILITY && (previous === undefined || rank > volatilityRank(previous))) {
    const tone = (record.change_24h ?? 0) >= 0 ? 'up' : 'down';
    found.push({ ...base, kind: 'volatility', label: record.volatility, tone });
  }
  const sameWindow = previous !== undefined && previous.window_start === record.window_start;
  const movedBefore = sameWindow && Math.abs(windowMove(previous)) >= WINDOW_MOVE_PERCENT;
  if (Math.abs(move) >= WINDOW_MOVE_PERCENT && !movedBefore) {
    found.push({ ...base, kind: 'window-move', label: null, tone: move >= 0 ? 'up' : 'down' });
  }
  return found;
}

/** The alert state after the market went from `previous` to `next`. */
export function raiseAlerts(state: AlertState, previous: MarketState, next: MarketState): AlertState {
  if (previous === next) return state;
  const fresh: MarketAlert[] = [];
  let raised: Map<string, number> | null = null;
  for (const record of next.values()) {
    const before = previous.get(record.coin_id);
    if (before === record) continue;
    for (const alert of alertsFor(record, before)) {
      const key = `${alert.kind}:${alert.label ?? ''}:${alert.coinId}`;
      const at = timestampMillis(alert.at);
      const last = (raised ?? state.raised).get(key);
      if (last !== undefined && Math.abs(at - last) < ALERT_COOLDOWN_MS) continue;
      raised ??= new Map(state.raised);
      raised.set(key, at);
      fresh.push({ ...alert, id: `${key}:${at}` });
    }
  }
  if (fresh.length === 0) return state;
  fresh.sort((a, b) => timestampMillis(b.at) - timestampMillis(a.at));
  return { alerts: [...fresh, ...state.alerts].slice(0, ALERT_LIMIT), raised: raised ?? state.raised };
}
