import { describe, expect, it } from 'vitest';
import { ALERT_COOLDOWN_MS, ALERT_LIMIT, alertsFor, EMPTY_ALERTS, raiseAlerts, windowMove } from '../src/alerts';
import type { Aggregate } from '../src/contract';
import { EMPTY_MARKET, fromSnapshot } from '../src/market';
import { aggregate, BITCOIN } from './fixtures';

const at = (seconds: number): string => new Date(Date.parse(BITCOIN.timestamp) + seconds * 1000).toISOString();
const kinds = (record: Aggregate, previous?: Aggregate): string[] =>
  alertsFor(record, previous).map((alert) => `${alert.kind}:${alert.label ?? ''}:${alert.tone}`);

describe('alertsFor', () => {
  it('raises nothing for a calm coin', () => {
    expect(kinds(BITCOIN)).toEqual([]);
    expect(kinds(BITCOIN, BITCOIN)).toEqual([]);
  });

  it('raises nothing on an unknown change: an unknown is not a move', () => {
    const unknown = aggregate({ change_24h: null, volatility: null, trend: null });
    expect(kinds(unknown)).toEqual([]);
    expect(kinds(unknown, aggregate({ change_24h: 6, trend: 'Surging' }))).toEqual([]);
  });

  it('raises when the trend turns surging or crashing, not while it stays there', () => {
    const surging = aggregate({ change_24h: 6, trend: 'Surging' });
    expect(kinds(surging, BITCOIN)).toEqual(['trend:Surging:up']);
    expect(kinds(surging, surging)).toEqual([]);
    expect(kinds(aggregate({ change_24h: -7, trend: 'Crashing' }), surging)).toEqual(['trend:Crashing:down']);
  });

  it('raises when volatility rises to high or extreme', () => {
    const high = aggregate({ change_24h: -12, volatility: 'High Volatility' });
    expect(kinds(high, BITCOIN)).toEqual(['volatility:High Volatility:down']);
    expect(kinds(high, high)).toEqual([]);
    expect(kinds(aggregate({ change_24h: -25, volatility: 'Extreme' }), high)).toEqual(['volatility:Extreme:down']);
    expect(kinds(high, aggregate({ volatility: 'Extreme' }))).toEqual([]);
  });

  it('raises on a move of 1 % or more within one window, once per window', () => {
    const jump = aggregate({ open: 100, close: 101.5 });
    expect(windowMove(jump)).toBeCloseTo(1.5);
    expect(kinds(jump, BITCOIN)).toEqual(['window-move::up']);
    expect(kinds(aggregate({ open: 100, close: 101.7, timestamp: at(5) }), jump)).toEqual([]);
    expect(kinds(aggregate({ open: 100, close: 98.9 }))).toEqual(['window-move::down']);
  });

  it('raises for a coin already extreme when it is first seen', () => {
    expect(kinds(aggregate({ change_24h: 30, volatility: 'Extreme', trend: 'Surging' }))).toEqual([
      'trend:Surging:up',
      'volatility:Extreme:up',
    ]);
  });
});

describe('raiseAlerts', () => {
  const crashing = (seconds: number): Aggregate =>
    aggregate({ change_24h: -6, trend: 'Crashing', timestamp: at(seconds) });

  it('adds new alerts first and keeps at most the limit', () => {
    let state = raiseAlerts(EMPTY_ALERTS, EMPTY_MARKET, fromSnapshot([crashing(0)]));
    expect(state.alerts.map((alert) => alert.coin)).toEqual(['BTC']);
    for (let n = 0; n < ALERT_LIMIT + 5; n += 1) {
      const coin = aggregate({ coin: `C${n}`, coin_id: `c${n}`, change_24h: 6, trend: 'Surging' });
      state = raiseAlerts(state, EMPTY_MARKET, fromSnapshot([coin]));
    }
    expect(state.alerts).toHaveLength(ALERT_LIMIT);
    expect(state.alerts[0]?.coin).toBe(`C${ALERT_LIMIT + 4}`);
  });

  it('does not repeat an alert for a coin hovering on a band edge within the cool-down', () => {
    const calm = (seconds: number): Aggregate => aggregate({ change_24h: -4.9, trend: 'Falling', timestamp: at(seconds) });
    let market = fromSnapshot([crashing(0)]);
    let state = raiseAlerts(EMPTY_ALERTS, EMPTY_MARKET, market);
    for (const [record, seconds] of [
      [calm(10), 10],
      [crashing(20), 20],
      [calm(30), 30],
    ] as const) {
      const next = fromSnapshot([record]);
      state = raiseAlerts(state, market, next);
      market = next;
      expect(seconds).toBeGreaterThan(0);
    }
    expect(state.alerts).toHaveLength(1);
    const muchLater = fromSnapshot([crashing(ALERT_COOLDOWN_MS / 1000 + 1)]);
    state = raiseAlerts(state, fromSnapshot([calm(40)]), muchLater);
    expect(state.alerts).toHaveLength(2);
    expect(new Set(state.alerts.map((alert) => alert.id)).size).toBe(2);
  });

  it('returns the same state when nothing was raised', () => {
    const market = fromSnapshot([BITCOIN]);
    expect(raiseAlerts(EMPTY_ALERTS, EMPTY_MARKET, market)).toBe(EMPTY_ALERTS);
    expect(raiseAlerts(EMPTY_ALERTS, market, market)).toBe(EMPTY_ALERTS);
  });
});
