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
    expect(result.problems).toEqual(['dropped record ethereum: field price should be a number, got "3412"']);
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

  it.each([
    ['coin', ''],
    ['samples', 1.5],
    ['change_24h', null],
    ['market_cap', 'big'],
    ['volatility', 'Wild'],
    ['trend', 'Sideways'],
    ['window_start', 'yesterday'],
    ['timestamp', undefined],
  ])('rejects %s = %j', (field, value) => {
    expect(validateAggregate({ ...BITCOIN, [field]: value })).toMatch(`field ${field} should be`);
  });
});
