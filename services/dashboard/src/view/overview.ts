/**
 * The market overview: six figures over every coin on screen. Each figure is a `dt`/`dd` pair
 * with `data-testid="overview-<key>"` on its group.
 */

import { changeDirection, type Formatters, MISSING } from '../format';
import { BIG_MOVE_PERCENT, type MarketOverview } from '../overview';

interface Figure {
  readonly key: string;
  readonly label: string;
  readonly hint?: string;
  value(overview: MarketOverview, format: Formatters): { text: string; tone?: string };
}

const FIGURES: readonly Figure[] = [
  {
    key: 'volume',
    label: '24h volume',
    value: (o, f) => ({ text: f.compact(o.totalVolume) }),
  },
  {
    key: 'market-cap',
    label: 'Market cap',
    value: (o, f) => ({ text: f.compact(o.totalMarketCap) }),
  },
  {
    key: 'average-change',
    label: 'Average 24h',
    value: (o, f) =>
      o.averageChange === null
        ? { text: MISSING }
        : { text: f.change(o.averageChange), tone: changeDirection(Number(o.averageChange.toFixed(2))) },
  },
  {
    key: 'gainers',
    label: 'Gainers',
    value: (o, f) => ({ text: o.coins === 0 ? MISSING : f.count(o.gainers), tone: 'up' }),
  },
  {
    key: 'losers',
    label: 'Losers',
    value: (o, f) => ({ text: o.coins === 0 ? MISSING : f.count(o.losers), tone: 'down' }),
  },
  {
    key: 'big-movers',
    label: `Moving ≥${BIG_MOVE_PERCENT}%`,
    hint: `Coins whose 24h change is ${BIG_MOVE_PERCENT}% or more either way`,
    value: (o, f) => ({ text: o.coins === 0 ? MISSING : f.count(o.bigMovers), tone: o.bigMovers > 0 ? 'warn' : 'flat' }),
  },
];

export class OverviewCards {
  readonly element: HTMLElement;
  private readonly values = new Map<string, HTMLElement>();
  private readonly format: Formatters;

  constructor(doc: Document, format: Formatters) {
    this.format = format;
    this.element = doc.createElement('dl');
    this.element.className = 'overview';
    this.element.setAttribute('aria-label', 'Market overview');
    for (const figure of FIGURES) {
      const group = doc.createElement('div');
      group.className = 'card';
      group.dataset.testid = `overview-${figure.key}`;
      const term = doc.createElement('dt');
      term.textContent = figure.label;
      if (figure.hint !== undefined) term.title = figure.hint;
      const value = doc.createElement('dd');
      value.textContent = MISSING;
      group.append(term, value);
      this.element.append(group);
      this.values.set(figure.key, value);
    }
  }

  render(overview: MarketOverview): void {
    for (const figure of FIGURES) {
      const cell = this.values.get(figure.key);
      if (cell === undefined) continue;
      const { text, tone } = figure.value(overview, this.format);
      if (cell.textContent !== text) cell.textContent = text;
      if (tone === undefined) delete cell.dataset.tone;
      else cell.dataset.tone = tone;
    }
  }
}
