/** Number and time formatting, per the reader's locale. */

export const MISSING = '—';

export interface Formatters {
  /** A price with decimals that suit its size: 96,512.40 / 0.3812 / 0.00002134. */
  price(value: number): string;
  /** A percent change with its sign: +2.35% / −1.20% / 0.00%; `—` when unknown. */
  change(percent: number | null): string;
  /** A large amount in short form: $1.9T; `—` when unknown. */
  compact(value: number | null): string;
  /** Wall-clock time of an ISO timestamp: 17:00:30. */
  time(iso: string): string;
  /** A price without the currency, for chart axes: 96,512.40 / 0.3812. */
  plainPrice(value: number): string;
  /** Wall-clock time of epoch seconds, with seconds (chart crosshair): 17:00:30. */
  clock(epochSeconds: number): string;
  /** Wall-clock hours and minutes of epoch seconds (chart axis): 17:00. */
  clockShort(epochSeconds: number): string;
  /** A count: 1,204. */
  count(value: number): string;
  /** The locale the formatters use (undefined: the reader's). */
  readonly locale: string | undefined;
}

export interface FormatOptions {
  /** BCP 47 locale; undefined means the reader's own. */
  readonly locale?: string | undefined;
  /** ISO 4217 quote currency of the prices. */
  readonly currency: string;
}

/**
 * Decimals for a price: cents for one unit and up, four decimals down to a cent (DOGE 0.3812),
 * and four significant digits below that (SHIB 0.00002134).
 */
export function priceDigits(value: number): Intl.NumberFormatOptions {
  const size = Math.abs(value);
  if (size >= 1 || size === 0) return { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  if (size >= 0.01) return { minimumFractionDigits: 4, maximumFractionDigits: 4 };
  return { minimumSignificantDigits: 4, maximumSignificantDigits: 4 };
}

export function createFormatters({ locale, currency }: FormatOptions): Formatters {
  const cache = new Map<string, Intl.NumberFormat>();
  const numberFormat = (options: Intl.NumberFormatOptions): Intl.NumberFormat => {
    const key = JSON.stringify(options);
    let format = cache.get(key);
    if (format === undefined) {
      format = new Intl.NumberFormat(locale, options);
      cache.set(key, format);
    }
    return format;
  };
  const money = { style: 'currency', currency } as const;
  const changeFormat = numberFormat({
    style: 'percent',
    signDisplay: 'exceptZero',
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  const compactFormat = numberFormat({ ...money, notation: 'compact', minimumFractionDigits: 0, maximumFractionDigits: 2 });
  const timeFormat = new Intl.DateTimeFormat(locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const shortTimeFormat = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
  const countFormat = numberFormat({ maximumFractionDigits: 0 });
  return {
    price: (value) => numberFormat({ ...money, ...priceDigits(value) }).format(value),
    change: (percent) => (percent === null ? MISSING : changeFormat.format(percent / 100)),
    compact: (value) => (value === null ? MISSING : compactFormat.format(value)),
    time: (iso) => {
      const millis = Date.parse(iso);
      return Number.isNaN(millis) ? MISSING : timeFormat.format(millis);
    },
    plainPrice: (value) => numberFormat(priceDigits(value)).format(value),
    clock: (seconds) => timeFormat.format(seconds * 1000),
    clockShort: (seconds) => shortTimeFormat.format(seconds * 1000),
    count: (value) => countFormat.format(value),
    locale,
  };
}

/** Direction of a change, for its colour: `up`, `down` or `flat` (also for an unknown change). */
export function changeDirection(percent: number | null): 'up' | 'down' | 'flat' {
  if (percent === null) return 'flat';
  if (percent > 0) return 'up';
  if (percent < 0) return 'down';
  return 'flat';
}
