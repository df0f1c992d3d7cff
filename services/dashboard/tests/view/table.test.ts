// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import type { Aggregate } from '../../src/contract';
import { createFormatters } from '../../src/format';
import { DEFAULT_SORT, type SortKey, sortAggregates, type SortState } from '../../src/sort';
import { COLUMNS } from '../../src/view/columns';
import { EMPTY_TEXT, MarketTable } from '../../src/view/table';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM } from '../fixtures';

const format = createFormatters({ locale: 'en-US', currency: 'USD' });
let onSort: Mock<(key: SortKey) => void>;
let table: MarketTable;

function show(records: readonly Aggregate[], sort: SortState = DEFAULT_SORT): void {
  table.render(sortAggregates(records, sort), sort);
}

const rows = (): HTMLTableRowElement[] => [...table.element.querySelectorAll<HTMLTableRowElement>('tbody tr')];
const rowIds = (): (string | undefined)[] => rows().map((row) => row.dataset.coinId);
const cell = (coinId: string, className: string): HTMLElement | null =>
  table.element.querySelector(`tr[data-coin-id="${coinId}"] .${className}`);

beforeEach(() => {
  onSort = vi.fn<(key: SortKey) => void>();
  table = new MarketTable(document, { format, onSort });
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
    expect(texts).toEqual(['DOGE', 'Dogecoin', '$0.3812', '-6.40%', '$0.3831', '$0.3795', '—', 'Volatile', 'Crashing']);
    expect(cell('bitcoin', 'price')?.textContent).toBe('$96,512.40');
    expect(cell('bitcoin', 'change')?.textContent).toBe('+2.35%');
    expect(cell('bitcoin', 'change')?.dataset.tone).toBe('up');
    expect(cell('dogecoin', 'change')?.dataset.tone).toBe('down');
    expect(cell('dogecoin', 'trend')?.dataset.tone).toBe('crashing');
    expect(rows()[0]?.firstElementChild?.tagName).toBe('TH');
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
    expect(sorts.filter((value) => value !== 'none')).toEqual(['ascending']);
    expect(table.element.querySelector('th.price')?.getAttribute('aria-sort')).toBe('ascending');
  });
});
