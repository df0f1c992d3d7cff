/**
 * The alert list: newest first, each `li[data-alert-kind]` saying which coin did what and when.
 * New alerts are announced politely to screen readers (`aria-live`).
 */

import type { MarketAlert } from '../alerts';
import type { Formatters } from '../format';

export const NO_ALERTS_TEXT = 'No extreme moves so far.';

export function alertText(alert: MarketAlert, format: Formatters): string {
  const change = `${format.change(alert.change24h)} in 24h`;
  switch (alert.kind) {
    case 'trend':
      return `${alert.coin} is ${alert.label?.toLowerCase() ?? 'moving'}: ${change}`;
    case 'volatility':
      return `${alert.coin} volatility ${alert.label?.toLowerCase() ?? 'high'}: ${change}`;
    case 'window-move':
      return `${alert.coin} moved ${format.change(alert.windowMove)} in one window, to ${format.price(alert.price)}`;
  }
}

export class AlertList {
  readonly element: HTMLElement;
  private readonly doc: Document;
  private readonly format: Formatters;
  private readonly list: HTMLOListElement;
  private readonly empty: HTMLElement;
  private readonly count: HTMLElement;
  private shown: readonly MarketAlert[] | null = null;
  private readonly items = new Map<string, HTMLLIElement>();

  constructor(doc: Document, format: Formatters) {
    this.doc = doc;
    this.format = format;
    this.element = doc.createElement('section');
    this.element.className = 'panel alerts';
    this.element.setAttribute('aria-labelledby', 'alerts-heading');
    const heading = doc.createElement('h2');
    heading.id = 'alerts-heading';
    heading.textContent = 'Alerts ';
    this.count = doc.createElement('span');
    this.count.className = 'badge';
    this.count.dataset.testid = 'alert-count';
    heading.append(this.count);
    this.list = doc.createElement('ol');
    this.list.className = 'alert-list';
    this.list.dataset.testid = 'alerts';
    this.list.setAttribute('aria-live', 'polite');
    this.list.setAttribute('aria-relevant', 'additions');
    // The list scrolls when long: focusable, so a keyboard can scroll it too.
    this.list.tabIndex = 0;
    this.list.setAttribute('aria-labelledby', 'alerts-heading');
    this.empty = doc.createElement('p');
    this.empty.className = 'empty-note';
    this.empty.textContent = NO_ALERTS_TEXT;
    this.element.append(heading, this.list, this.empty);
    this.render([]);
  }

  /** Show `alerts` (newest first). Items already on screen are kept, so only new ones are announced. */
  render(alerts: readonly MarketAlert[]): void {
    if (alerts === this.shown) return;
    this.shown = alerts;
    const keep = new Set(alerts.map((alert) => alert.id));
    for (const [id, item] of this.items) {
      if (!keep.has(id)) {
        item.remove();
        this.items.delete(id);
      }
    }
    alerts.forEach((alert, index) => {
      let item = this.items.get(alert.id);
      if (item === undefined) {
        item = this.item(alert);
        this.items.set(alert.id, item);
      }
      const atIndex = this.list.children[index];
      if (atIndex !== item) this.list.insertBefore(item, atIndex ?? null);
    });
    this.empty.hidden = alerts.length > 0;
    this.count.textContent = alerts.length > 0 ? String(alerts.length) : '';
  }

  private item(alert: MarketAlert): HTMLLIElement {
    const item = this.doc.createElement('li');
    item.dataset.alertKind = alert.kind;
    item.dataset.coinId = alert.coinId;
    item.dataset.tone = alert.tone;
    const time = this.doc.createElement('time');
    time.dateTime = alert.at;
    time.textContent = this.format.time(alert.at);
    const text = this.doc.createElement('span');
    text.textContent = alertText(alert, this.format);
    item.append(time, ' ', text);
    return item;
  }
}
