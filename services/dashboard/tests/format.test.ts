import { describe, expect, it } from 'vitest';
import { changeDirection, createFormatters, MISSING, priceDigits } from '../src/format';

const en = createFormatters({ locale: 'en-US', currency: 'USD' });
const de = createFormatters({ locale: 'de-DE', currency: 'EUR' });

describe('price', () => {
  it('uses cents for large prices and the locale separators', () => {
    expect(en.price(96_512.4)).toBe('$96,512.40');
    expect(en.price(1)).toBe('$1.00');
    expect(de.price(96_512.4)).toBe('96.512,40\u00a0€');
  });

  it('keeps meaningful digits of small prices', () => {
    expect(en.price(0.38123)).toBe('$0.3812');
    expect(en.price(0.01)).toBe('$0.0100');
    expect(en.price(0.0000213456)).toBe('$0.00002135');
    expect(priceDigits(0)).toEqual({ minimumFractionDigits: 2, maximumFractionDigits: 2 });
  });

  it('never shows a tiny price as zero, on the page or on a chart axis', () => {
    // The fourth input: a new listing at 1.234e-08 was logged as $0.00.
    expect(en.price(1.234e-8)).toBe('$0.00000001234');
    expect(en.plainPrice(1.234e-8)).toBe('0.00000001234');
    expect(en.plainPrice(1.2e-12)).toBe('0.000000000001200');
  });
});

describe('change', () => {
  it('always shows the sign of a move, and none for no move', () => {
    expect(en.change(2.345)).toBe('+2.35%');
    expect(en.change(-1.2)).toBe('-1.20%');
    expect(en.change(0)).toBe('0.00%');
    expect(changeDirection(2.345)).toBe('up');
    expect(changeDirection(-0.01)).toBe('down');
    expect(changeDirection(0)).toBe('flat');
  });

  it('shows an unknown change as unknown, not as no move', () => {
    expect(en.change(null)).toBe(MISSING);
    expect(changeDirection(null)).toBe('flat');
  });
});

describe('compact and time', () => {
  it('shortens large amounts and marks unknown ones', () => {
    expect(en.compact(1_910_000_000_000)).toBe('$1.91T');
    expect(en.compact(null)).toBe(MISSING);
  });

  it('shows the wall-clock time of a timestamp', () => {
    const utc = createFormatters({ locale: 'en-GB', currency: 'USD' });
    expect(utc.time('2026-11-28T17:00:30.000Z')).toMatch(/^\d\d:00:30$/);
    expect(utc.time('garbage')).toBe(MISSING);
  });
});
