/**
 * The charts, drawn by lightweight-charts (TradingView, Apache-2.0): candles or a line for the
 * selected coin, and a sparkline per table row. The price chart keeps the library's attribution
 * logo; the sparklines are too small for it.
 */

import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  createChart,
  type IChartApi,
  type ISeriesApi,
  LineSeries,
  type Time,
  type UTCTimestamp,
} from 'lightweight-charts';
import type {
  ChartColors,
  ChartKit,
  ChartStyle,
  PriceChart,
  PriceChartOptions,
  SparkPoint,
  Sparkline,
} from '../charts';
import { priceDigits } from '../format';
import type { Candle } from '../history';

const utc = (seconds: number): UTCTimestamp => seconds as UTCTimestamp;
const seconds = (time: Time): number => (typeof time === 'number' ? time : Date.parse(String(time)) / 1000);

/** The smallest price step the axis shows for prices of this size (0.01 for BTC, 0.0001 for DOGE). */
function minMove(price: number): number {
  const digits = priceDigits(price);
  if (digits.maximumFractionDigits !== undefined) return 10 ** -digits.maximumFractionDigits;
  const magnitude = Math.floor(Math.log10(Math.abs(price) || 1));
  return 10 ** (magnitude - 3);
}

function sameCandle(a: Candle | undefined, b: Candle | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.time === b.time &&
    a.open === b.open &&
    a.high === b.high &&
    a.low === b.low &&
    a.close === b.close
  );
}

class LightweightPriceChart implements PriceChart {
  private readonly chart: IChartApi;
  private readonly candleSeries: ISeriesApi<'Candlestick'>;
  private readonly lineSeries: ISeriesApi<'Line'>;
  private key: string | null = null;
  private style: ChartStyle = 'candles';
  private shown: readonly Candle[] = [];
  private step = 0;

  constructor(host: HTMLElement, options: PriceChartOptions) {
    this.chart = createChart(host, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: 'transparent' },
        fontFamily: getComputedStyle(host).fontFamily,
        attributionLogo: true,
      },
      localization: {
        ...(options.locale === undefined ? {} : { locale: options.locale }),
        priceFormatter: (price: number) => options.formatPrice(price),
        timeFormatter: (time: Time) => options.formatTime(seconds(time)),
      },
      timeScale: {
        timeVisible: true,
        secondsVisible: false,
        borderVisible: false,
        rightOffset: 3,
        // A few windows should not each fill half the chart.
        maxBarSpacing: 28,
        tickMarkFormatter: (time: Time) => options.formatTick(seconds(time)),
      },
      rightPriceScale: { borderVisible: false },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.candleSeries = this.chart.addSeries(CandlestickSeries, { priceLineVisible: true });
    this.lineSeries = this.chart.addSeries(LineSeries, { visible: false, lineWidth: 2 });
    this.setColors(options.colors);
  }

  get size(): number {
    return (this.style === 'candles' ? this.candleSeries : this.lineSeries).data().length;
  }

  show(key: string, candles: readonly Candle[], style: ChartStyle): void {
    const last = candles.at(-1);
    if (last !== undefined) {
      const step = minMove(last.close);
      if (step !== this.step) {
        this.step = step;
        const priceFormat = { type: 'price', precision: Math.max(0, -Math.floor(Math.log10(step))), minMove: step } as const;
        this.candleSeries.applyOptions({ priceFormat });
        this.lineSeries.applyOptions({ priceFormat });
      }
    }
    if (style !== this.style) {
      this.style = style;
      this.candleSeries.applyOptions({ visible: style === 'candles' });
      this.lineSeries.applyOptions({ visible: style === 'line' });
    }
    const previous = this.shown;
    this.shown = candles;
    const newKey = key !== this.key;
    this.key = key;
    // A live update changes the last window or opens the next one: update just those points.
    const from = Math.max(0, previous.length - 1);
    const appendOnly =
      !newKey &&
      previous.length > 0 &&
      candles.length >= previous.length &&
      candles.length - previous.length <= 1 &&
      candles[from]?.time === previous[from]?.time &&
      previous.slice(0, from).every((candle, index) => sameCandle(candle, candles[index]));
    if (appendOnly) {
      for (const candle of candles.slice(from)) this.updatePoint(candle);
      return;
    }
    this.candleSeries.setData(candles.map((c) => ({ ...c, time: utc(c.time) })));
    this.lineSeries.setData(candles.map((c) => ({ time: utc(c.time), value: c.close })));
    if (newKey) this.chart.timeScale().fitContent();
  }

  private updatePoint(candle: Candle): void {
    this.candleSeries.update({ ...candle, time: utc(candle.time) });
    this.lineSeries.update({ time: utc(candle.time), value: candle.close });
  }

  setColors(colors: ChartColors): void {
    this.chart.applyOptions({
      layout: { textColor: colors.muted },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
    });
    this.candleSeries.applyOptions({
      upColor: colors.up,
      downColor: colors.down,
      borderUpColor: colors.up,
      borderDownColor: colors.down,
      wickUpColor: colors.up,
      wickDownColor: colors.down,
    });
    this.lineSeries.applyOptions({ color: colors.accent });
  }

  destroy(): void {
    this.chart.remove();
  }
}

class LightweightSparkline implements Sparkline {
  private readonly chart: IChartApi;
  private readonly series: ISeriesApi<'Line'>;
  private colors: ChartColors;
  private tone: 'up' | 'down' | 'flat' = 'flat';

  constructor(host: HTMLElement, colors: ChartColors) {
    this.colors = colors;
    this.chart = createChart(host, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: 'transparent' }, attributionLogo: false },
      grid: { vertLines: { visible: false }, horzLines: { visible: false } },
      rightPriceScale: { visible: false },
      leftPriceScale: { visible: false },
      timeScale: { visible: false, borderVisible: false },
      crosshair: { mode: CrosshairMode.Hidden, vertLine: { visible: false }, horzLine: { visible: false } },
      handleScroll: false,
      handleScale: false,
      kineticScroll: { mouse: false, touch: false },
    });
    this.series = this.chart.addSeries(LineSeries, {
      lineWidth: 2,
      priceLineVisible: false,
      lastValueVisible: false,
      crosshairMarkerVisible: false,
    });
    this.setColors(colors);
  }

  show(points: readonly SparkPoint[], tone: 'up' | 'down' | 'flat'): void {
    this.tone = tone;
    this.series.setData(points.map((point) => ({ time: utc(point.time), value: point.value })));
    this.chart.timeScale().fitContent();
    this.paint();
  }

  setColors(colors: ChartColors): void {
    this.colors = colors;
    this.paint();
  }

  private paint(): void {
    const color = this.tone === 'up' ? this.colors.up : this.tone === 'down' ? this.colors.down : this.colors.muted;
    this.series.applyOptions({ color });
  }

  destroy(): void {
    this.chart.remove();
  }
}

export const lightweightCharts: ChartKit = {
  priceChart: (host, options) => new LightweightPriceChart(host, options),
  sparkline: (host, colors) => new LightweightSparkline(host, colors),
};
