/**
 * A recording stand-in for the charting library (happy-dom has no canvas): it keeps what the
 * dashboard asked each chart to show, so DOM tests can check it.
 */

import type { ChartColors, ChartKit, ChartStyle, PriceChart, SparkPoint, Sparkline } from '../src/charts';
import type { Candle } from '../src/history';

export const TEST_COLORS: ChartColors = {
  text: 'black',
  muted: 'gray',
  grid: 'silver',
  up: 'green',
  down: 'red',
  accent: 'blue',
};

export class FakePriceChart implements PriceChart {
  readonly host: HTMLElement;
  key: string | null = null;
  candles: readonly Candle[] = [];
  style: ChartStyle | null = null;
  colors: ChartColors;
  /** Shows of a new key (the real chart refits its view then). */
  fits = 0;
  destroyed = false;

  constructor(host: HTMLElement, colors: ChartColors) {
    this.host = host;
    this.colors = colors;
  }

  get size(): number {
    return this.candles.length;
  }

  show(key: string, candles: readonly Candle[], style: ChartStyle): void {
    if (key !== this.key) this.fits += 1;
    this.key = key;
    this.candles = candles;
    this.style = style;
  }

  setColors(colors: ChartColors): void {
    this.colors = colors;
  }

  destroy(): void {
    this.destroyed = true;
  }
}

export class FakeSparkline implements Sparkline {
  readonly host: HTMLElement;
  points: readonly SparkPoint[] = [];
  tone: string | null = null;
  shows = 0;
  destroyed = false;

  constructor(host: HTMLElement) {
    this.host = host;
  }

  show(points: readonly SparkPoint[], tone: 'up' | 'down' | 'flat'): void {
    this.points = points;
    this.tone = tone;
    this.shows += 1;
  }

  setColors(): void {}

  destroy(): void {
    this.destroyed = true;
  }
}

export class FakeCharts implements ChartKit {
  readonly priceCharts: FakePriceChart[] = [];
  readonly sparklines: FakeSparkline[] = [];

  priceChart(host: HTMLElement, options: { colors: ChartColors }): PriceChart {
    const chart = new FakePriceChart(host, options.colors);
    this.priceCharts.push(chart);
    return chart;
  }

  sparkline(host: HTMLElement): Sparkline {
    const line = new FakeSparkline(host);
    this.sparklines.push(line);
    return line;
  }

  get price(): FakePriceChart {
    const chart = this.priceCharts.at(-1);
    if (chart === undefined) throw new Error('no price chart was created');
    return chart;
  }

  /** The sparkline drawn inside the row of `coinId`. */
  sparklineOf(coinId: string): FakeSparkline | undefined {
    return this.sparklines.find((line) => line.host.closest(`tr[data-coin-id="${coinId}"]`) !== null);
  }
}
