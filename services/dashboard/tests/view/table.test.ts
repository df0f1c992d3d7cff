// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import type { Aggregate } from '../../src/contract';
import { createFormatters } from '../../src/format';
import { DEFAULT_SORT, type SortKey, sortAggregates, type SortState } from '../../src/sort';
import { COLUMNS } from '../../src/view/columns';
import { EMPTY_TEXT, MarketTable, SPARKLINE_LABEL, type TableExtras } from '../../src/view/table';
import { FakeCharts, TEST_COLORS } from '../fake-charts';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM } from '../fixtures';

const format = createFormatters({ locale: 'en-US', currency: 'USD' });
let onSort: Mock<(key: SortKey) => void>;
let onSelect: Mock<(coinId: string) => void>;
let charts: FakeCharts;
let table: MarketTable;
const NO_EXTRAS: TableExtras = { selected: null, sparklines: new Map() };

function show(records: readonly Aggregate[], sort: SortState = DEFAULT_SORT, extras = NO_EXTRAS): void {
  table.render(sortAggregates(records, sort), sort, extras);
}

const rows = (): HTMLTableRowElement[] => [...table.element.querySelectorAll<HTMLTableRowElement>('tbody tr')];
const rowIds = (): (string | undefined)[] => rows().map((row) => row.dataset.coinId);
const cell = (coinId: string, className: string): HTMLElement | null =>
  table.element.querySelector(`tr[data-coin-id="${coinId}"] .${className}`);

beforeEach(() => {
  onSort = vi.fn<(key: SortKey) => void>();
  onSelect = vi.fn<(coinId: string) => void>();
  charts = new FakeCharts();
  table = new MarketTable(document, { format, charts, colors: TEST_COLORS, onSort, onSelect });
  document.body.replaceChildren(table.element);
});

describe('MarketTable', () => {
  it('says it is waiting until there is data', () => {
    show([]);
    expect(rows()).toHaveLength(1);
    expect(rows()[0]?.textContent).toBe(EMPTY_TEXT);
    expect(rows()[0]?.dataset.coinId).toBeUndefined();
  });

  it('shows one row per coin with every column', () => {
    show([DOGECOIN, BITCOIN, ETHEREUM]);
    expect(rowIds()).toEqual(['bitcoin', 'ethereum', 'dogecoin']);
    const texts = [...(rows()[2]?.children ?? [])].map((element) => element.textContent);
    expect(texts).toEqual(['DOGE', 'Dogecoin', '$0.3812', '-6.40%', '$0.3831', '$0.3795', '—', 'Volatile', 'Crashing', '']);
    expect(cell('bitcoin', 'price')?.textContent).toBe('$96,512.40');
    expect(cell('bitcoin', 'change')?.textContent).toBe('+2.35%');
    expect(cell('bitcoin', 'change')?.dataset.tone).toBe('up');
    expect(cell('dogecoin', 'change')?.dataset.tone).toBe('down');
    expect(cell('dogecoin', 'trend')?.dataset.tone).toBe('crashing');
    expect(rows()[0]?.firstElementChild?.tagName).toBe('TH');
  });

  it('shows an unknown change as "—" with no volatility or trend label, and a tiny price in full', () => {
    const listing = aggregate({
      coin: 'NEW',
      coin_id: 'new-listing',
      name: 'New Listing',
      price: 1.234e-8,
      open: 1.2e-8,
      high: 1.3e-8,
      low: 1.1e-8,
      close: 1.234e-8,
      mean_price: 1.25e-8,
      change_24h: null,
      volatility: null,
      trend: null,
    });
    show([listing]);
    expect(cell('new-listing', 'price')?.textContent).toBe('$0.00000001234');
    expect(cell('new-listing', 'low')?.textContent).toBe('$0.00000001100');
    for (const className of ['change', 'volatility', 'trend']) {
      expect(cell('new-listing', className)?.textContent).toBe('—');
    }
    expect(cell('new-listing', 'volatility')?.dataset.tone).toBeUndefined();
    expect(cell('new-listing', 'trend')?.dataset.tone).toBeUndefined();
  });

  it('updates rows in place and flags the direction of a price move', () => {
    show([BITCOIN, ETHEREUM]);
    const bitcoinRow = rows()[0];
    expect(cell('bitcoin', 'price')?.dataset.tick).toBeUndefined();
    show([aggregate({ price: 97_000.5 }), ETHEREUM]);
    expect(rows()[0]).toBe(bitcoinRow);
    expect(cell('bitcoin', 'price')?.textContent).toBe('$97,000.50');
    expect(cell('bitcoin', 'price')?.dataset.tick).toBe('up');
    show([aggregate({ price: 90_000 }), ETHEREUM]);
    expect(cell('bitcoin', 'price')?.dataset.tick).toBe('down');
  });

  it('reorders and removes rows to match the records', () => {
    show([BITCOIN, ETHEREUM, DOGECOIN]);
    const ethereumRow = rows()[1];
    show([BITCOIN, ETHEREUM, DOGECOIN], { key: 'price', direction: 'asc' });
    expect(rowIds()).toEqual(['dogecoin', 'ethereum', 'bitcoin']);
    expect(rows()[1]).toBe(ethereumRow);
    show([ETHEREUM]);
    expect(rowIds()).toEqual(['ethereum']);
    expect(charts.sparklines.filter((line) => line.destroyed)).toHaveLength(2);
    show([]);
    expect(rows()[0]?.textContent).toBe(EMPTY_TEXT);
  });

  it('has a sort button per column that reports its key and shows the active sort', () => {
    show([BITCOIN], { key: 'price', direction: 'asc' });
    const buttons = [...table.element.querySelectorAll<HTMLButtonElement>('thead button')];
    expect(buttons.map((button) => button.dataset.sortKey)).toEqual(COLUMNS.map((column) => column.key));
    expect(buttons.every((button) => button.type === 'button')).toBe(true);
    buttons[3]?.click();
    expect(onSort).toHaveBeenCalledWith('change_24h');
    const sorts = [...table.element.querySelectorAll('thead th')].map((th) => th.getAttribute('aria-sort'));
    expect(sorts.filter((value) => value !== null && value !== 'none')).toEqual(['ascending']);
    expect(table.element.querySelector('th.price')?.getAttribute('aria-sort')).toBe('ascending');
  });

  it('selects a coin from its symbol button or a click on its row, and marks the selected row', () => {
    show([BITCOIN, ETHEREUM], DEFAULT_SORT, { selected: 'ethereum', sparklines: new Map() });
    const button = (coinId: string) =>
      table.element.querySelector<HTMLButtonElement>(`tr[data-coin-id="${coinId}"] button.select-coin`);
    expect(button('bitcoin')?.textContent).toBe('BTC');
    expect(button('bitcoin')?.getAttribute('aria-pressed')).toBe('false');
    expect(button('ethereum')?.getAttribute('aria-pressed')).toBe('true');
    expect(rows()[1]?.dataset.selected).toBe('true');
    expect(rows()[0]?.dataset.selected).toBeUndefined();
    button('bitcoin')?.click();
    expect(onSelect).toHaveBeenLastCalledWith('bitcoin');
    cell('ethereum', 'price')?.click();
    expect(onSelect).toHaveBeenLastCalledWith('ethereum');
    expect(onSelect).toHaveBeenCalledTimes(2);
  });

  it('draws a sparkline per row, only again when its points change, toned by direction', () => {
    const rising = [
      { time: 1, value: 10 },
      { time: 2, value: 12 },
    ];
    const sparklines = new Map([['bitcoin', rising]]);
    show([BITCOIN, ETHEREUM], DEFAULT_SORT, { selected: null, sparklines });
    expect(table.element.querySelector('thead th.sparkline')?.textContent).toBe(SPARKLINE_LABEL);
    expect(charts.sparklineOf('bitcoin')?.points).toBe(rising);
    expect(charts.sparklineOf('bitcoin')?.tone).toBe('up');
    expect(charts.sparklineOf('ethereum')?.points).toEqual([]);
    expect(cell('bitcoin', 'sparkline')?.dataset.points).toBe('2');
    show([BITCOIN, ETHEREUM], DEFAULT_SORT, { selected: null, sparklines });
    expect(charts.sparklineOf('bitcoin')?.shows).toBe(1);
    show([BITCOIN], DEFAULT_SORT, { selected: null, sparklines: new Map([['bitcoin', [...rising, { time: 3, value: 9 }]]]) });
    expect(charts.sparklineOf('bitcoin')?.shows).toBe(2);
    expect(charts.sparklineOf('bitcoin')?.tone).toBe('down');
  });
});
