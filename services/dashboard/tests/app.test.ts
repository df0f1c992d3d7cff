// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Dashboard, LAST_UPDATE_TEST_ID, startDashboard, THEME_TOGGLE_TEST_ID, TITLE } from '../src/app';
import { BACKOFF_BASE_MS } from '../src/backoff';
import type { Aggregate } from '../src/contract';
import { LEGACY_UPDATE_MESSAGE, MARKET_UPDATE_MESSAGE, SNAPSHOT_MESSAGE } from '../src/contract';
import { THEME_STORAGE_KEY } from '../src/theme';
import { DATA_AGE_TEST_ID, STATUS_TEST_ID } from '../src/view/status';
import { FakeCharts } from './fake-charts';
import { FakeTransport } from './fake-transport';
import { aggregate, BITCOIN, consistent, DOGECOIN, ETHEREUM, frame } from './fixtures';

const CONFIG = { wsUrl: 'ws://127.0.0.1:8000/ws', apiUrl: 'http://127.0.0.1:8000/', currency: 'USD' };

/** A fixture `windows` windows later (the fixtures' windows are 60 s long). */
function later(record: Aggregate, windows: number, overrides: Partial<Aggregate> = {}): Aggregate {
  const shift = (iso: string): string => new Date(Date.parse(iso) + windows * 60_000).toISOString();
  const moved = {
    ...record,
    window_start: shift(record.window_start),
    window_end: shift(record.window_end),
    timestamp: shift(record.timestamp),
  };
  return consistent(moved, overrides);
}

let fake: FakeTransport;
let charts: FakeCharts;
let root: HTMLElement;
let dashboard: Dashboard;
let problems: string[];
let requested: string[];
let historyBody: (coinId: string) => Response;
let frames: (() => void)[];
let manualFrames: boolean;

const status = (): string | null | undefined =>
  root.querySelector(`[data-testid="${STATUS_TEST_ID}"]`)?.textContent;
const ageElement = (): HTMLElement | null => root.querySelector(`[data-testid="${DATA_AGE_TEST_ID}"]`);
const rowIds = (): (string | undefined)[] =>
  [...root.querySelectorAll<HTMLElement>('tbody tr[data-coin-id]')].map((row) => row.dataset.coinId);
const price = (coinId: string): string | null | undefined =>
  root.querySelector(`tr[data-coin-id="${coinId}"] .price`)?.textContent;
const chartHost = (): HTMLElement | null => root.querySelector('[data-testid="price-chart"]');
const overview = (key: string): string | null | undefined =>
  root.querySelector(`[data-testid="overview-${key}"] dd`)?.textContent;

function start(): void {
  dashboard = startDashboard(root, CONFIG, {
    transport: fake.transport,
    charts,
    fetch: async (input) => {
      const url = new URL(String(input));
      requested.push(url.pathname + url.search);
      return historyBody(url.searchParams.get('coin') ?? '');
    },
    locale: 'en-US',
    random: () => 0,
    onProblem: (text) => problems.push(text),
    requestFrame: (draw) => {
      if (manualFrames) frames.push(draw);
      else draw();
    },
    storage: window.localStorage,
  });
}

/** Let pending fetches settle (they are promises, not timers). */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => {
  vi.useFakeTimers();
  fake = new FakeTransport();
  charts = new FakeCharts();
  problems = [];
  requested = [];
  frames = [];
  manualFrames = false;
  historyBody = () => new Response('Not Found', { status: 404 });
  window.localStorage.clear();
  window.history.replaceState(null, '', '/');
  root = document.createElement('div');
  document.body.replaceChildren(root);
  start();
});

afterEach(() => {
  dashboard.stop();
  vi.useRealTimers();
});

function goLive(records: readonly Aggregate[]): void {
  fake.last.serverOpens();
  fake.last.serverSends(frame(SNAPSHOT_MESSAGE, records));
}

describe('the dashboard', () => {
  it('is headed with the page title', () => {
    expect(root.querySelector('h1')?.textContent).toBe(TITLE);
  });

  it('connects to the configured URL and goes live with the snapshot', () => {
    expect(fake.last.url).toBe(CONFIG.wsUrl);
    expect(status()).toBe('connecting');
    goLive([ETHEREUM, BITCOIN]);
    expect(status()).toBe('live');
    expect(rowIds()).toEqual(['bitcoin', 'ethereum']);
    expect(price('bitcoin')).toBe('$96,512.40');
    expect(root.querySelector(`[data-testid="${LAST_UPDATE_TEST_ID}"]`)?.textContent).toMatch(/^Data as of /);
    expect(document.title).toBe(`BTC $96,512.40 · ${TITLE}`);
  });

  it('merges updates of either message type, keeping the newest window per coin', () => {
    goLive([]);
    const newer = later(BITCOIN, 1, { price: 97_100 });
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [newer, BITCOIN]));
    fake.last.serverSends(frame(LEGACY_UPDATE_MESSAGE, [DOGECOIN]));
    expect(rowIds()).toEqual(['bitcoin', 'dogecoin']);
    expect(price('bitcoin')).toBe('$97,100.00');
    expect(price('dogecoin')).toBe('$0.3812');
  });

  it('sorts when a header button is clicked, and flips on a second click', () => {
    goLive([BITCOIN, ETHEREUM, DOGECOIN]);
    const button = root.querySelector<HTMLButtonElement>('button[data-sort-key="change_24h"]');
    button?.click();
    expect(rowIds()).toEqual(['bitcoin', 'ethereum', 'dogecoin']);
    button?.click();
    expect(rowIds()).toEqual(['dogecoin', 'ethereum', 'bitcoin']);
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [later(ETHEREUM, 1, { change_24h: -9 })]));
    expect(rowIds()).toEqual(['ethereum', 'dogecoin', 'bitcoin']);
  });

  it('shows reconnecting, then resynchronises the table from the new snapshot', () => {
    goLive([BITCOIN, ETHEREUM]);
    fake.last.serverCloses();
    expect(status()).toBe('reconnecting (attempt 1)');
    expect(root.dataset.status).toBe('reconnecting');
    expect(document.title).toBe(`(reconnecting) BTC $96,512.40 · ${TITLE}`);
    expect(rowIds()).toEqual(['bitcoin', 'ethereum']);
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    goLive([later(DOGECOIN, 1)]);
    expect(status()).toBe('live');
    expect(rowIds()).toEqual(['dogecoin']);
  });

  it('keeps the rows when a restarted API sends an empty snapshot, until its first records', () => {
    goLive([BITCOIN, ETHEREUM]);
    fake.last.serverCloses();
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    goLive([]);
    expect(rowIds()).toEqual(['bitcoin', 'ethereum']);
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [later(BITCOIN, 1, { price: 99_000 })]));
    expect(price('bitcoin')).toBe('$99,000.00');
  });
});

describe('staleness', () => {
  // The fixtures' windows are 60 s long: data turns stale after 120 s.
  it('shows the age of the newest data and turns stale after two windows without new records', () => {
    goLive([BITCOIN]);
    expect(ageElement()?.textContent).toBe('updated 0 s ago');
    vi.advanceTimersByTime(61_000);
    expect(ageElement()?.textContent).toBe('updated 1 min 01 s ago');
    expect(status()).toBe('live');
    // The same record again is not news.
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [BITCOIN]));
    vi.advanceTimersByTime(60_000);
    expect(status()).toBe('stale');
    expect(root.dataset.status).toBe('stale');
    expect(ageElement()?.dataset.stale).toBe('true');
    expect(price('bitcoin')).toBe('$96,512.40');
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [aggregate({ timestamp: '2026-11-28T17:00:40.000Z' })]));
    expect(status()).toBe('live');
    expect(ageElement()?.dataset.stale).toBeUndefined();
    expect(ageElement()?.textContent).toBe('updated 0 s ago');
  });

  it('counts from the connection when no data has come yet', () => {
    goLive([]);
    expect(ageElement()?.textContent).toBe('');
    vi.advanceTimersByTime(59_000);
    expect(status()).toBe('live');
    // The indicator is refreshed every second.
    vi.advanceTimersByTime(2_000);
    expect(status()).toBe('stale');
  });

  it('is stale at once after a reconnect when the only data is old', () => {
    goLive([BITCOIN]);
    vi.advanceTimersByTime(200_000);
    fake.last.serverCloses();
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    goLive([]);
    expect(status()).toBe('stale');
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [later(BITCOIN, 1)]));
    expect(status()).toBe('live');
  });
});

describe('the coin chart', () => {
  it('selects the largest coin first, and another from its row or the selector', () => {
    goLive([DOGECOIN, ETHEREUM, BITCOIN]);
    expect(chartHost()?.dataset.coinId).toBe('bitcoin');
    expect(charts.price.key).toBe('bitcoin');
    expect(root.querySelector('#coin-heading')?.textContent).toBe('BTC · Bitcoin');
    root.querySelector<HTMLButtonElement>('tr[data-coin-id="ethereum"] button.select-coin')?.click();
    expect(charts.price.key).toBe('ethereum');
    expect(window.location.hash).toBe('#coin=ethereum');
    const select = root.querySelector<HTMLSelectElement>('select[data-testid="coin-select"]');
    expect([...(select?.options ?? [])].map((option) => option.value)).toEqual(['bitcoin', 'ethereum', 'dogecoin']);
    expect(select?.value).toBe('ethereum');
    if (select !== null) {
      select.value = 'dogecoin';
      select.dispatchEvent(new Event('change'));
    }
    expect(charts.price.key).toBe('dogecoin');
    expect(root.querySelector('tr[data-selected="true"]')?.getAttribute('data-coin-id')).toBe('dogecoin');
  });

  it('opens on the coin named in the address', () => {
    dashboard.stop();
    window.history.replaceState(null, '', '/#coin=dogecoin');
    start();
    goLive([BITCOIN, DOGECOIN]);
    expect(charts.price.key).toBe('dogecoin');
  });

  it('backfills candles from /api/history for every coin, then adds live windows', async () => {
    const older = [later(BITCOIN, -2), later(BITCOIN, -1)];
    historyBody = (coinId) =>
      Response.json({ coin_id: coinId, data: coinId === 'bitcoin' ? older : [later(ETHEREUM, -1)] });
    goLive([BITCOIN, ETHEREUM]);
    await settle();
    expect(requested.sort()).toEqual(['/api/history?coin=bitcoin', '/api/history?coin=ethereum']);
    expect(charts.price.candles.map((candle) => candle.close)).toEqual([...older, BITCOIN].map((r) => r.close));
    expect(chartHost()?.dataset.points).toBe('3');
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [later(BITCOIN, 1, { open: 1, high: 3, low: 0.5, close: 2 })]));
    expect(charts.price.candles).toHaveLength(4);
    expect(charts.price.candles.at(-1)).toEqual({
      time: Date.parse(later(BITCOIN, 1).window_start) / 1000,
      open: 1,
      high: 3,
      low: 0.5,
      close: 2,
    });
    expect(charts.sparklineOf('ethereum')?.points).toHaveLength(2);
    expect(problems).toEqual([]);
  });

  it('does without history when the API has no history endpoint', async () => {
    goLive([BITCOIN, ETHEREUM, DOGECOIN]);
    await settle();
    const asked = requested.length;
    expect(asked).toBeGreaterThan(0);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('api/history answered 404');
    expect(charts.price.candles).toHaveLength(1);
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [later(BITCOIN, 1)]));
    await settle();
    expect(charts.price.candles).toHaveLength(2);
    expect(requested).toHaveLength(asked);
    expect(problems).toHaveLength(1);
  });

  it('asks for history again after a reconnect, to fill the gap', async () => {
    historyBody = (coinId) => Response.json({ coin_id: coinId, data: [] });
    goLive([BITCOIN]);
    await settle();
    fake.last.serverCloses();
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    historyBody = (coinId) => Response.json({ coin_id: coinId, data: [later(BITCOIN, 1), later(BITCOIN, 2)] });
    goLive([later(BITCOIN, 2)]);
    await settle();
    expect(requested).toEqual(['/api/history?coin=bitcoin', '/api/history?coin=bitcoin']);
    expect(charts.price.candles).toHaveLength(3);
  });

  it('switches between candles and a line', () => {
    goLive([BITCOIN]);
    expect(charts.price.style).toBe('candles');
    const line = root.querySelector<HTMLInputElement>('input[name="chart-style"][value="line"]');
    line?.click();
    expect(charts.price.style).toBe('line');
    expect(chartHost()?.dataset.style).toBe('line');
  });
});

describe('the market overview, comparison and alerts', () => {
  it('sums and counts over every coin', () => {
    goLive([BITCOIN, ETHEREUM, DOGECOIN]);
    expect(overview('volume')).toBe('$62B');
    expect(overview('average-change')).toBe('-1.75%');
    expect(overview('gainers')).toBe('1');
    expect(overview('losers')).toBe('2');
    expect(overview('big-movers')).toBe('0');
    const bars = [...root.querySelectorAll<HTMLElement>('[data-testid="compare-bars"] li')];
    expect(bars.map((bar) => bar.dataset.coinId)).toEqual(['bitcoin', 'ethereum', 'dogecoin']);
    expect(bars.map((bar) => bar.textContent)).toEqual(['BTC+2.35%', 'ETH-1.20%', 'DOGE-6.40%']);
  });

  it('raises an alert when a coin starts crashing', () => {
    goLive([BITCOIN]);
    expect(root.querySelectorAll('[data-testid="alerts"] li')).toHaveLength(0);
    fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [later(BITCOIN, 1, { change_24h: -6, trend: 'Crashing' })]));
    const alerts = [...root.querySelectorAll<HTMLElement>('[data-testid="alerts"] li')];
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.textContent).toContain('BTC is crashing: -6.00% in 24h');
    expect(root.querySelector('[data-testid="alert-count"]')?.textContent).toBe('1');
  });
});

describe('drawing', () => {
  it('draws once per frame however many messages came, from the newest state', () => {
    manualFrames = true;
    goLive([BITCOIN]);
    for (let i = 1; i <= 5; i += 1) {
      fake.last.serverSends(frame(MARKET_UPDATE_MESSAGE, [aggregate({ timestamp: `2026-11-28T17:00:4${i}.000Z`, price: 1000 * i })]));
    }
    expect(frames).toHaveLength(1);
    expect(price('bitcoin')).toBeUndefined();
    frames.shift()?.();
    expect(price('bitcoin')).toBe('$5,000.00');
    expect(status()).toBe('live');
  });
});

describe('the theme button', () => {
  it('cycles system, light, dark, and remembers the pick', () => {
    const button = root.querySelector<HTMLButtonElement>(`[data-testid="${THEME_TOGGLE_TEST_ID}"]`);
    expect(button?.textContent).toBe('Theme: System');
    expect(document.documentElement.dataset.theme).toBeUndefined();
    button?.click();
    expect(document.documentElement.dataset.theme).toBe('light');
    button?.click();
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(button?.textContent).toBe('Theme: Dark');
    expect(window.localStorage.getItem(THEME_STORAGE_KEY)).toBe('dark');
    button?.click();
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });
});
