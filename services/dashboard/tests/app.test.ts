// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Dashboard, LAST_UPDATE_TEST_ID, startDashboard, TITLE } from '../src/app';
import { BACKOFF_BASE_MS } from '../src/backoff';
import { LEGACY_UPDATE_MESSAGE, MARKET_UPDATE_MESSAGE, SNAPSHOT_MESSAGE } from '../src/contract';
import { STALE_AFTER_MS } from '../src/staleness';
import { STATUS_TEST_ID } from '../src/view/status';
import { FakeTransport } from './fake-transport';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM, frame } from './fixtures';

const CONFIG = { wsUrl: 'ws://127.0.0.1:8000/ws', apiUrl: 'http://127.0.0.1:8000/', currency: 'USD' };

let fake: FakeTransport;
let root: HTMLElement;
let dashboard: Dashboard;

const status = (): string | null | undefined =>
  root.querySelector(`[data-testid="${STATUS_TEST_ID}"]`)?.textContent;
const rowIds = (): (string | undefined)[] =>
  [...root.querySelectorAll<HTMLElement>('tr[data-coin-id]')].map((row) => row.dataset.coinId);
const price = (coinId: string): string | null | undefined =>
  root.querySelector(`tr[data-coin-id="${coinId}"] .price`)?.textContent;

beforeEach(() => {
  vi.useFakeTimers();
  fake = new FakeTransport();
  root = document.createElement('div');
  document.body.replaceChildren(root);
  dashboard = startDashboard(root, CONFIG, {
    transport: fake.transport,
    locale: 'en-US',
    random: () => 0,
    onProblem: () => undefined,
  });
});

afterEach(() => {
  dashboard.stop();
  vi.useRealTimers();
});

describe('the dashboard', () => {
  it('is headed with the page title', () => {
    expect(root.querySelector('h1')?.textContent).toBe(TITLE);
  });

  it('connects to the configured URL and goes live with the snapshot', () => {
    expect(fake.last.url).toBe(CONFIG.wsUrl);
    expect(status()).toBe('connecting');
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [ETHEREUM, BITCOIN]));
    expect(status()).toBe('live');
    expect(rowIds()).toEqual(['bitcoin', 'ethereum']);
    expect(price('bitcoin')).toBe('$96,512.40');
    expect(root.querySelector(`[data-testid="${LAST_UPDATE_TEST_ID}"]`)?.textContent).toMatch(/^Data as of /);
  });

  it('merges updates of either message type, keeping the newest window per coin', () => {
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, []));
    const newer = aggregate({ window_start: '2026-11-28T17:01:00.000Z', price: 97_100 });
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [newer, BITCOIN]));
    fake.last.serverSends(frame(LEGACY_UPDATE_MESSAGE, [DOGECOIN]));
    expect(rowIds()).toEqual(['bitcoin', 'dogecoin']);
    expect(price('bitcoin')).toBe('$97,100.00');
    expect(price('dogecoin')).toBe('$0.3812');
  });

  it('sorts when a header button is clicked, and flips on a second click', () => {
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN, ETHEREUM, DOGECOIN]));
    const button = root.querySelector<HTMLButtonElement>('button[data-sort-key="change_24h"]');
    button?.click();
    expect(rowIds()).toEqual(['bitcoin', 'ethereum', 'dogecoin']);
    button?.click();
    expect(rowIds()).toEqual(['dogecoin', 'ethereum', 'bitcoin']);
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [aggregate({ coin_id: 'ethereum', change_24h: -9 })]));
    expect(rowIds()).toEqual(['ethereum', 'dogecoin', 'bitcoin']);
  });

  it('shows reconnecting, then resynchronises the table from the new snapshot', () => {
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN, ETHEREUM]));
    fake.last.serverCloses();
    expect(status()).toBe('reconnecting (attempt 1)');
    expect(root.dataset.status).toBe('reconnecting');
    expect(rowIds()).toEqual(['bitcoin', 'ethereum']);
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [DOGECOIN]));
    expect(status()).toBe('live');
    expect(rowIds()).toEqual(['dogecoin']);
  });

  it('marks the data stale after a minute of silence', () => {
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN]));
    vi.advanceTimersByTime(STALE_AFTER_MS + 1);
    expect(status()).toBe('stale');
    expect(root.dataset.status).toBe('stale');
    expect(price('bitcoin')).toBe('$96,512.40');
  });
});
