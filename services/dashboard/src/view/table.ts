/**
 * The live market table. Rows are keyed by `coin_id` and updated in place, so a price tick
 * rewrites a few text nodes rather than the whole table.
 *
 * DOM hooks: each body row has `data-coin-id` (and `data-selected="true"` on the selected
 * coin); each cell has its column's class (`price`, `change`, ...) and, where it is coloured,
 * `data-tone`; a price cell that just moved has `data-tick="up"` or `"down"`; header buttons have
 * `data-sort-key`; the symbol cell holds `button.select-coin` (`aria-pressed`), which selects the
 * coin for the chart; the last cell, `td.sparkline`, holds the sparkline of recent windows.
 */

import type { ChartColors, ChartKit, SparkPoint, Sparkline } from '../charts';
import type { Aggregate } from '../contract';
import { changeDirection, type Formatters } from '../format';
import type { SortKey, SortState } from '../sort';
import { type CellContent, COLUMNS, type Column } from './columns';

export const EMPTY_TEXT = 'Waiting for market data…';
export const SPARKLINE_LABEL = 'Recent';

export interface MarketTableOptions {
  readonly format: Formatters;
  readonly charts: ChartKit;
  readonly colors: ChartColors;
  readonly onSort: (key: SortKey) => void;
  readonly onSelect: (coinId: string) => void;
}

export interface TableExtras {
  /** The coin shown in the chart. */
  readonly selected: string | null;
  /** Recent closes per coin, oldest first; the same array means nothing changed. */
  readonly sparklines: ReadonlyMap<string, readonly SparkPoint[]>;
}

interface RowView {
  readonly row: HTMLTableRowElement;
  readonly cells: readonly HTMLElement[];
  readonly select: HTMLButtonElement;
  readonly sparkCell: HTMLTableCellElement;
  readonly sparkline: Sparkline;
  sparkPoints: readonly SparkPoint[] | null;
  price: number;
}

interface HeaderView {
  readonly cell: HTMLTableCellElement;
  readonly indicator: HTMLElement;
}

const PRICE_COLUMN = COLUMNS.findIndex((column) => column.key === 'price');

export class MarketTable {
  /** The scrollable wrapper holding the table; place it in the page. */
  readonly element: HTMLElement;
  private readonly doc: Document;
  private readonly options: MarketTableOptions;
  private readonly body: HTMLTableSectionElement;
  private readonly emptyRow: HTMLTableRowElement;
  private readonly headers = new Map<SortKey, HeaderView>();
  private readonly rows = new Map<string, RowView>();

  constructor(doc: Document, options: MarketTableOptions) {
    this.doc = doc;
    this.options = options;
    this.element = doc.createElement('div');
    this.element.className = 'table-scroll';
    const table = doc.createElement('table');
    table.className = 'market';
    const caption = doc.createElement('caption');
    caption.className = 'visually-hidden';
    caption.textContent = 'Latest window per coin. Column headers are buttons that sort the table.';
    table.append(caption, this.buildHead());
    this.body = doc.createElement('tbody');
    this.emptyRow = doc.createElement('tr');
    this.emptyRow.className = 'empty';
    const emptyCell = doc.createElement('td');
    emptyCell.colSpan = COLUMNS.length + 1;
    emptyCell.textContent = EMPTY_TEXT;
    this.emptyRow.append(emptyCell);
    this.body.append(this.emptyRow);
    table.append(this.body);
    this.element.append(table);
  }

  /** Show `records` (already sorted) with `sort` marked on the headers. */
  render(records: readonly Aggregate[], sort: SortState, extras: TableExtras): void {
    this.renderHeaders(sort);
    const seen = new Set<string>();
    records.forEach((record, index) => {
      seen.add(record.coin_id);
      const view = this.rows.get(record.coin_id) ?? this.createRow(record.coin_id);
      this.fillRow(view, record);
      this.fillExtras(view, record, extras);
      const atIndex = this.body.children[index];
      if (atIndex !== view.row) this.body.insertBefore(view.row, atIndex ?? null);
    });
    for (const [coinId, view] of this.rows) {
      if (!seen.has(coinId)) {
        view.row.remove();
        view.sparkline.destroy();
        this.rows.delete(coinId);
      }
    }
    if (records.length === 0) this.body.append(this.emptyRow);
    else this.emptyRow.remove();
  }

  setColors(colors: ChartColors): void {
    for (const view of this.rows.values()) view.sparkline.setColors(colors);
  }

  destroy(): void {
    for (const view of this.rows.values()) view.sparkline.destroy();
    this.rows.clear();
  }

  private buildHead(): HTMLTableSectionElement {
    const head = this.doc.createElement('thead');
    const row = this.doc.createElement('tr');
    for (const column of COLUMNS) {
      const cell = this.doc.createElement('th');
      cell.scope = 'col';
      cell.className = cellClass(column);
      const button = this.doc.createElement('button');
      button.type = 'button';
      button.className = 'sort';
      button.dataset.sortKey = column.key;
      button.addEventListener('click', () => this.options.onSort(column.key));
      const indicator = this.doc.createElement('span');
      indicator.className = 'sort-indicator';
      indicator.setAttribute('aria-hidden', 'true');
      button.append(column.label, indicator);
      cell.append(button);
      row.append(cell);
      this.headers.set(column.key, { cell, indicator });
    }
    const spark = this.doc.createElement('th');
    spark.scope = 'col';
    spark.className = 'sparkline';
    spark.textContent = SPARKLINE_LABEL;
    row.append(spark);
    head.append(row);
    return head;
  }

  private renderHeaders(sort: SortState): void {
    for (const [key, { cell, indicator }] of this.headers) {
      const active = key === sort.key;
      cell.setAttribute('aria-sort', active ? (sort.direction === 'asc' ? 'ascending' : 'descending') : 'none');
      indicator.textContent = active ? (sort.direction === 'asc' ? '▲' : '▼') : '';
    }
  }

  private createRow(coinId: string): RowView {
    const row = this.doc.createElement('tr');
    row.dataset.coinId = coinId;
    const select = this.doc.createElement('button');
    select.type = 'button';
    select.className = 'select-coin';
    select.addEventListener('click', () => this.options.onSelect(coinId));
    const cells = COLUMNS.map((column, index) => {
      const cell = this.doc.createElement(index === 0 ? 'th' : 'td');
      if (index === 0) {
        cell.scope = 'row';
        cell.append(select);
      }
      cell.className = cellClass(column);
      row.append(cell);
      return cell;
    });
    const sparkCell = this.doc.createElement('td');
    sparkCell.className = 'sparkline';
    const host = this.doc.createElement('div');
    host.className = 'spark';
    host.setAttribute('aria-hidden', 'true');
    sparkCell.append(host);
    row.append(sparkCell);
    // A click anywhere on a row selects its coin, as the symbol button does for the keyboard.
    row.addEventListener('click', (event) => {
      if (!(event.target instanceof Element) || event.target.closest('button') === null) this.options.onSelect(coinId);
    });
    const sparkline = this.options.charts.sparkline(host, this.options.colors);
    const view: RowView = { row, cells, select, sparkCell, sparkline, sparkPoints: null, price: Number.NaN };
    this.rows.set(coinId, view);
    return view;
  }

  private fillExtras(view: RowView, record: Aggregate, extras: TableExtras): void {
    const selected = extras.selected === record.coin_id;
    if (selected) view.row.dataset.selected = 'true';
    else delete view.row.dataset.selected;
    view.select.setAttribute('aria-pressed', String(selected));
    const label = `Show ${record.name || record.coin} in the chart`;
    if (view.select.title !== label) view.select.title = label;
    const points = extras.sparklines.get(record.coin_id) ?? [];
    if (points !== view.sparkPoints) {
      view.sparkPoints = points;
      const first = points[0];
      const last = points.at(-1);
      const tone = first === undefined || last === undefined ? 'flat' : changeDirection(last.value - first.value);
      view.sparkline.show(points, tone);
      view.sparkCell.dataset.points = String(points.length);
      view.sparkCell.dataset.tone = tone;
    }
  }

  private fillRow(view: RowView, record: Aggregate): void {
    COLUMNS.forEach((column, index) => {
      const cell = index === 0 ? view.select : view.cells[index];
      if (cell !== undefined) writeCell(cell, column.content(record, this.options.format));
    });
    const priceCell = view.cells[PRICE_COLUMN];
    if (priceCell !== undefined && !Number.isNaN(view.price) && record.price !== view.price) {
      // Restart the flash animation even when the price moves the same way twice in a row.
      delete priceCell.dataset.tick;
      void priceCell.offsetWidth;
      priceCell.dataset.tick = record.price > view.price ? 'up' : 'down';
    }
    view.price = record.price;
  }
}

function cellClass(column: Column): string {
  return column.numeric ? `${column.className} numeric` : column.className;
}

function writeCell(cell: HTMLElement, content: CellContent): void {
  if (cell.textContent !== content.text) cell.textContent = content.text;
  if (content.tone === undefined) delete cell.dataset.tone;
  else if (cell.dataset.tone !== content.tone) cell.dataset.tone = content.tone;
}
