/**
 * The coin comparison: one horizontal bar per coin for its 24h change, gains to the right of the
 * zero line and losses to the left, in plain HTML and CSS (a list a screen reader reads as
 * "BTC +2.35%"). Each item is `li[data-coin-id]`; the bar's length is the `--size` custom
 * property (0..1 of the largest move on screen).
 */

import { changeDirection, type Formatters } from '../format';
import type { ComparisonBar } from '../overview';

interface BarView {
  readonly item: HTMLLIElement;
  readonly label: HTMLElement;
  readonly bar: HTMLElement;
  readonly value: HTMLElement;
}

export class ComparisonBars {
  readonly element: HTMLElement;
  private readonly doc: Document;
  private readonly format: Formatters;
  private readonly list: HTMLOListElement;
  private readonly empty: HTMLElement;
  private readonly items = new Map<string, BarView>();

  constructor(doc: Document, format: Formatters) {
    this.doc = doc;
    this.format = format;
    this.element = doc.createElement('section');
    this.element.className = 'panel compare';
    this.element.setAttribute('aria-labelledby', 'compare-heading');
    const heading = doc.createElement('h2');
    heading.id = 'compare-heading';
    heading.textContent = '24h change by coin';
    this.list = doc.createElement('ol');
    this.list.className = 'bars';
    this.list.dataset.testid = 'compare-bars';
    this.empty = doc.createElement('p');
    this.empty.className = 'empty-note';
    this.empty.textContent = 'No coins yet.';
    this.element.append(heading, this.list, this.empty);
  }

  render(bars: readonly ComparisonBar[], selected: string | null): void {
    const seen = new Set<string>();
    bars.forEach((bar, index) => {
      seen.add(bar.coinId);
      const view = this.items.get(bar.coinId) ?? this.create(bar.coinId);
      view.label.textContent = bar.coin;
      const text = this.format.change(bar.change);
      if (view.value.textContent !== text) view.value.textContent = text;
      const tone = changeDirection(bar.change);
      view.item.dataset.tone = tone;
      view.bar.style.setProperty('--size', bar.size.toFixed(4));
      if (bar.coinId === selected) view.item.dataset.selected = 'true';
      else delete view.item.dataset.selected;
      const atIndex = this.list.children[index];
      if (atIndex !== view.item) this.list.insertBefore(view.item, atIndex ?? null);
    });
    for (const [coinId, view] of this.items) {
      if (!seen.has(coinId)) {
        view.item.remove();
        this.items.delete(coinId);
      }
    }
    this.empty.hidden = bars.length > 0;
  }

  private create(coinId: string): BarView {
    const item = this.doc.createElement('li');
    item.dataset.coinId = coinId;
    const label = this.doc.createElement('span');
    label.className = 'bar-label';
    const track = this.doc.createElement('span');
    track.className = 'bar-track';
    track.setAttribute('aria-hidden', 'true');
    const bar = this.doc.createElement('span');
    bar.className = 'bar';
    track.append(bar);
    const value = this.doc.createElement('span');
    value.className = 'bar-value';
    item.append(label, track, value);
    const view = { item, label, bar, value };
    this.items.set(coinId, view);
    return view;
  }
}
