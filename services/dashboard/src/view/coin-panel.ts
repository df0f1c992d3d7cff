/**
 * The selected coin: a coin selector, the candle (or line) chart of its windows, and the figures
 * of its newest window.
 *
 * DOM hooks: `select[data-testid="coin-select"]`; the chart's host
 * `[data-testid="price-chart"]` carries `data-coin-id` (the coin shown) and `data-points` (how
 * many windows the chart library holds), and `data-style` (`candles` or `line`); the radio inputs
 * `input[name="chart-style"]` switch the style.
 */

import { type ChartColors, type ChartKit, type ChartStyle, CHART_STYLES, type PriceChart } from '../charts';
import type { Aggregate } from '../contract';
import { changeDirection, type Formatters } from '../format';
import type { Candle } from '../history';

export interface CoinChoice {
  readonly coinId: string;
  readonly label: string;
}

export interface CoinPanelOptions {
  readonly format: Formatters;
  readonly charts: ChartKit;
  readonly colors: ChartColors;
  readonly onSelect: (coinId: string) => void;
  readonly onStyle: (style: ChartStyle) => void;
}

const STYLE_LABELS: Record<ChartStyle, string> = { candles: 'Candles', line: 'Line' };

export class CoinPanel {
  readonly element: HTMLElement;
  private readonly doc: Document;
  private readonly options: CoinPanelOptions;
  private readonly heading: HTMLElement;
  private readonly price: HTMLElement;
  private readonly change: HTMLElement;
  private readonly select: HTMLSelectElement;
  private readonly radios = new Map<ChartStyle, HTMLInputElement>();
  private readonly host: HTMLElement;
  private readonly note: HTMLElement;
  private readonly figures: HTMLElement;
  private readonly chart: PriceChart;
  private choices = '';

  constructor(doc: Document, options: CoinPanelOptions) {
    this.doc = doc;
    this.options = options;
    this.element = doc.createElement('section');
    this.element.className = 'panel coin-panel';
    this.element.setAttribute('aria-labelledby', 'coin-heading');

    const top = doc.createElement('div');
    top.className = 'coin-top';
    const title = doc.createElement('div');
    title.className = 'coin-title';
    this.heading = doc.createElement('h2');
    this.heading.id = 'coin-heading';
    this.heading.textContent = 'Price chart';
    const quote = doc.createElement('p');
    quote.className = 'coin-quote';
    this.price = doc.createElement('span');
    this.price.className = 'coin-price';
    this.price.dataset.testid = 'coin-price';
    this.change = doc.createElement('span');
    this.change.className = 'coin-change';
    quote.append(this.price, ' ', this.change);
    title.append(this.heading, quote);

    const controls = doc.createElement('div');
    controls.className = 'coin-controls';
    const selectLabel = doc.createElement('label');
    selectLabel.className = 'field';
    selectLabel.append('Coin ');
    this.select = doc.createElement('select');
    this.select.dataset.testid = 'coin-select';
    this.select.addEventListener('change', () => {
      if (this.select.value !== '') options.onSelect(this.select.value);
    });
    selectLabel.append(this.select);
    const styles = doc.createElement('fieldset');
    styles.className = 'segmented';
    const legend = doc.createElement('legend');
    legend.className = 'visually-hidden';
    legend.textContent = 'Chart style';
    styles.append(legend);
    for (const style of CHART_STYLES) {
      const label = doc.createElement('label');
      const radio = doc.createElement('input');
      radio.type = 'radio';
      radio.name = 'chart-style';
      radio.value = style;
      radio.addEventListener('change', () => {
        if (radio.checked) options.onStyle(style);
      });
      label.append(radio, STYLE_LABELS[style]);
      styles.append(label);
      this.radios.set(style, radio);
    }
    controls.append(selectLabel, styles);
    top.append(title, controls);

    const frame = doc.createElement('div');
    frame.className = 'chart-frame';
    this.host = doc.createElement('div');
    this.host.className = 'chart';
    this.host.dataset.testid = 'price-chart';
    this.host.setAttribute('role', 'img');
    this.note = doc.createElement('p');
    this.note.className = 'chart-note';
    frame.append(this.host, this.note);

    this.figures = doc.createElement('p');
    this.figures.className = 'coin-figures';
    this.figures.dataset.testid = 'coin-figures';

    this.element.append(top, frame, this.figures);
    this.chart = options.charts.priceChart(this.host, {
      formatPrice: (value) => options.format.plainPrice(value),
      formatTime: (seconds) => options.format.clock(seconds),
      formatTick: (seconds) => options.format.clockShort(seconds),
      locale: options.format.locale,
      colors: options.colors,
    });
  }

  /** The coins the selector offers (in table order) and which one is selected. */
  renderChoices(choices: readonly CoinChoice[], selected: string | null): void {
    const key = choices.map((choice) => `${choice.coinId}\u0000${choice.label}`).join('\u0001');
    if (key !== this.choices) {
      this.choices = key;
      this.select.replaceChildren(
        ...choices.map((choice) => {
          const option = this.doc.createElement('option');
          option.value = choice.coinId;
          option.textContent = choice.label;
          return option;
        }),
      );
      this.select.disabled = choices.length === 0;
    }
    if (selected !== null && this.select.value !== selected) this.select.value = selected;
  }

  /** Show `record` (the coin's newest window) and its `candles`, oldest first. */
  render(record: Aggregate | undefined, candles: readonly Candle[], style: ChartStyle, windowMs: number): void {
    const format = this.options.format;
    for (const [value, radio] of this.radios) radio.checked = value === style;
    this.host.dataset.style = style;
    if (record === undefined) {
      this.heading.textContent = 'Price chart';
      this.price.textContent = '';
      this.change.textContent = '';
      this.figures.textContent = '';
      this.note.textContent = 'Waiting for market data…';
      this.note.hidden = false;
      this.host.setAttribute('aria-label', 'Price chart: no data yet');
      return;
    }
    this.heading.textContent = `${record.coin} · ${record.name || record.coin_id}`;
    this.price.textContent = format.price(record.price);
    this.change.textContent = `${format.change(record.change_24h)} 24h`;
    this.change.dataset.tone = changeDirection(record.change_24h);
    this.chart.show(record.coin_id, candles, style);
    this.host.dataset.coinId = record.coin_id;
    this.host.dataset.points = String(this.chart.size);
    const seconds = Math.round(windowMs / 1000);
    this.note.hidden = candles.length > 1;
    this.note.textContent = candles.length <= 1 ? `Collecting ${seconds} s windows of ${record.coin}…` : '';
    const first = candles[0];
    const last = candles.at(-1);
    this.host.setAttribute(
      'aria-label',
      first === undefined || last === undefined
        ? `${record.coin} price chart: no windows yet`
        : `${record.coin} price, ${candles.length} windows of ${seconds} s from ${format.clockShort(first.time)} ` +
            `to ${format.clockShort(last.time)}: opened at ${format.price(first.open)}, now ${format.price(last.close)}`,
    );
    this.figures.textContent =
      `${seconds} s window from ${format.time(record.window_start)}: ` +
      `open ${format.price(record.open)} · high ${format.price(record.high)} · ` +
      `low ${format.price(record.low)} · close ${format.price(record.close)} · ${format.count(record.samples)} ticks`;
  }

  setColors(colors: ChartColors): void {
    this.chart.setColors(colors);
  }

  destroy(): void {
    this.chart.destroy();
  }
}
