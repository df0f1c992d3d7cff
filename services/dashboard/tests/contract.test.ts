import { describe, expect, it } from 'vitest';
import {
  LEGACY_UPDATE_MESSAGE,
  MARKET_UPDATE_MESSAGE,
  parseServerMessage,
  SNAPSHOT_MESSAGE,
  validateAggregate,
} from '../src/contract';
import { BITCOIN, DOGECOIN, ETHEREUM, frame } from './fixtures';

describe('parseServerMessage', () => {
  it('reads a snapshot, including an empty one', () => {
    expect(parseServerMessage(frame(SNAPSHOT_MESSAGE, [BITCOIN, ETHEREUM]))).toEqual({
      message: { kind: 'snapshot', data: [BITCOIN, ETHEREUM] },
      problems: [],
    });
    expect(parseServerMessage(frame(SNAPSHOT_MESSAGE, [])).message).toEqual({ kind: 'snapshot', data: [] });
  });

  it('treats market_update and the legacy aqi_update alike', () => {
    for (const type of [MARKET_UPDATE_MESSAGE, LEGACY_UPDATE_MESSAGE]) {
      expect(parseServerMessage(frame(type, [DOGECOIN])).message).toEqual({ kind: 'update', data: [DOGECOIN] });
    }
  });

  it('drops only the records that break the contract, saying which field was wrong', () => {
    const broken = { ...ETHEREUM, price: '3412' };
    const result = parseServerMessage(frame(MARKET_UPDATE_MESSAGE, [BITCOIN, broken]));
    expect(result.message).toEqual({ kind: 'update', data: [BITCOIN] });
    expect(result.problems).toEqual([
      'dropped record ethereum: field price should be a number in (0, 1000000000000000000], got "3412"',
    ]);
  });

  it('rejects frames that are not messages', () => {
    expect(parseServerMessage('not json').message).toBeNull();
    expect(parseServerMessage('[1, 2]').message).toBeNull();
    expect(parseServerMessage('{"type": "snapshot"}').problems).toEqual(['snapshot message has no data list']);
    expect(parseServerMessage(frame('hello', [])).problems).toEqual(['ignoring message of unknown type "hello"']);
  });
});

describe('validateAggregate', () => {
  it('accepts null volume and market cap', () => {
    expect(validateAggregate(DOGECOIN)).toBe(DOGECOIN);
  });

  it('accepts an unknown change with unknown labels: unknown stays unknown', () => {
    const unknown = { ...BITCOIN, change_24h: null, volatility: null, trend: null };
    expect(validateAggregate(unknown)).toBe(unknown);
  });

  it.each([
    ['coin', ''],
    ['samples', 1.5],
    ['samples', 0],
    ['market_cap', 'big'],
    ['market_cap', -1],
    ['volatility', 'Wild'],
    ['trend', 'Sideways'],
    ['window_start', 'yesterday'],
    ['timestamp', undefined],
    // What Infinity became on the wire before the API refused it (the second input).
    ['price', null],
    ['price', 0],
    ['price', -1],
    ['price', 1e19],
    ['change_24h', -150],
    ['change_24h', '1.5'],
    ['last_updated', 'soon'],
    ['window_open', undefined],
  ])('rejects %s = %j', (field, value) => {
    expect(validateAggregate({ ...BITCOIN, [field]: value })).toMatch(`field ${field} should be`);
  });

  it.each([
    ['a label without a change', { change_24h: null }, 'volatility'],
    ['a change without labels', { volatility: null, trend: null }, 'volatility'],
    ['a trend without a change', { change_24h: null, volatility: null }, 'trend'],
    ['a low above the open', { low: 96_450 }, 'open'],
    ['a close above the high', { close: 97_000 }, 'close'],
    ['a window that ends before it starts', { window_end: '2026-11-28T16:59:00.000Z' }, 'window_end'],
    ['a timestamp outside its window', { timestamp: '2026-11-28T17:05:00.000Z' }, 'timestamp'],
  ])('rejects %s', (_what, change, field) => {
    expect(validateAggregate({ ...BITCOIN, ...change })).toMatch(`field ${field} should be`);
  });
});
