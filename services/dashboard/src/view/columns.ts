/** The market table's columns: header, sort key, cell class, and what a cell shows. DOM-free. */

import type { Aggregate } from '../contract';
import { changeDirection, type Formatters, MISSING } from '../format';
import type { SortKey } from '../sort';

export interface CellContent {
  readonly text: string;
  /** Set as `data-tone` on the cell, for colour (`up`, `down`, `flat`, or a label slug). */
  readonly tone?: string;
}

export interface Column {
  readonly key: SortKey;
  readonly label: string;
  /** Class of the header and of every cell in the column (`price` is the price column). */
  readonly className: string;
  readonly numeric: boolean;
  content(record: Aggregate, format: Formatters): CellContent;
}

/** "High Volatility" -> "high-volatility". */
export function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** A band label as a cell; an unknown one (no 24 h change) is `—`, with no label tone. */
function label(value: string | null): CellContent {
  return value === null ? { text: MISSING } : { text: value, tone: slug(value) };
}

export const COLUMNS: readonly Column[] = [
  { key: 'coin', label: 'Coin', className: 'symbol', numeric: false, content: (r) => ({ text: r.coin }) },
  { key: 'name', label: 'Name', className: 'name', numeric: false, content: (r) => ({ text: r.name || r.coin_id }) },
  { key: 'price', label: 'Price', className: 'price', numeric: true, content: (r, f) => ({ text: f.price(r.price) }) },
  {
    key: 'change_24h',
    label: '24h',
    className: 'change',
    numeric: true,
    content: (r, f) => ({ text: f.change(r.change_24h), tone: changeDirection(r.change_24h) }),
  },
  { key: 'high', label: 'High', className: 'high', numeric: true, content: (r, f) => ({ text: f.price(r.high) }) },
  { key: 'low', label: 'Low', className: 'low', numeric: true, content: (r, f) => ({ text: f.price(r.low) }) },
  {
    key: 'market_cap',
    label: 'Market cap',
    className: 'market-cap',
    numeric: true,
    content: (r, f) => ({ text: f.compact(r.market_cap) }),
  },
  {
    key: 'volatility',
    label: 'Volatility',
    className: 'volatility',
    numeric: false,
    content: (r) => label(r.volatility),
  },
  {
    key: 'trend',
    label: 'Trend',
    className: 'trend',
    numeric: false,
    content: (r) => label(r.trend),
  },
];
