/**
 * What the dashboard asks of a charting library: a price chart (candles or a line) and a
 * sparkline. The real implementation is lightweight-charts (`view/lightweight.ts`); the DOM tests
 * use a recording stand-in, as happy-dom has no canvas.
 */

import type { Candle } from './history';

export type ChartStyle = 'candles' | 'line';
export const CHART_STYLES: readonly ChartStyle[] = ['candles', 'line'];

/** Colours resolved from the page's CSS (they follow the light or dark theme). */
export interface ChartColors {
  readonly text: string;
  readonly muted: string;
  readonly grid: string;
  readonly up: string;
  readonly down: string;
  readonly accent: string;
}

export interface PriceChartOptions {
  /** Axis and crosshair labels of prices, per locale. */
  formatPrice(value: number): string;
  /** Crosshair label of a time (epoch seconds). */
  formatTime(epochSeconds: number): string;
  /** Axis label of a time (epoch seconds). */
  formatTick(epochSeconds: number): string;
  readonly locale: string | undefined;
  readonly colors: ChartColors;
}

export interface PriceChart {
  /**
   * Show `candles` (oldest first) in `style`. `key` names what is shown (the coin): a new key
   * fits the whole series into view; the same key only updates what changed.
   */
  show(key: string, candles: readonly Candle[], style: ChartStyle): void;
  setColors(colors: ChartColors): void;
  /** How many points the chart holds now, read back from the library. */
  readonly size: number;
  destroy(): void;
}

export interface SparkPoint {
  readonly time: number;
  readonly value: number;
}

export interface Sparkline {
  show(points: readonly SparkPoint[], tone: 'up' | 'down' | 'flat'): void;
  setColors(colors: ChartColors): void;
  destroy(): void;
}

export interface ChartKit {
  priceChart(host: HTMLElement, options: PriceChartOptions): PriceChart;
  sparkline(host: HTMLElement, colors: ChartColors): Sparkline;
}
