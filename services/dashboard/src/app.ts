/**
 * The dashboard: wires the connection, the state and the views together. The only module that
 * owns mutable state; everything it calls is either pure (market, history, alerts, overview,
 * sort, staleness) or a view.
 *
 * Messages are folded into the state as they arrive; the screen is drawn at most once a frame
 * (see `schedule.ts`). History is backfilled from `GET /api/history` for every coin of each
 * snapshot, so the charts are not empty for the first minutes, and again after every reconnect,
 * which also resynchronises the table from the new snapshot.
 */

import { type AlertState, EMPTY_ALERTS, raiseAlerts } from './alerts';
import { fetchHistory } from './api';
import type { ChartKit, ChartStyle, SparkPoint } from './charts';
import type { DashboardConfig } from './config';
import { type ConnectionState, type ConnectionStatus, LiveConnection, type Transport } from './connection';
import type { Aggregate, ServerMessage } from './contract';
import { createFormatters } from './format';
import { candlesOf, EMPTY_HISTORY, type HistoryState, mergeHistory, windowMillis } from './history';
import { EMPTY_MARKET, isNewer, latestTimestamp, type MarketState, mergeRecords, resync } from './market';
import { comparisonBars, marketOverview } from './overview';
import { FrameScheduler, type RequestFrame } from './schedule';
import { DEFAULT_SORT, nextSort, type SortKey, type SortState, sortAggregates } from './sort';
import { DEFAULT_WINDOW_MS, isStale, staleAfterMs } from './staleness';
import { applyTheme, chartColors, nextTheme, storedTheme, storeTheme, type Theme } from './theme';
import { AlertList } from './view/alerts';
import { ComparisonBars } from './view/bars';
import { CoinPanel } from './view/coin-panel';
import { OverviewCards } from './view/overview';
import { DataAge, StatusIndicator } from './view/status';
import { MarketTable } from './view/table';

export const TITLE = 'Crypto Market Pulse';
export const LAST_UPDATE_TEST_ID = 'last-update';
export const THEME_TOGGLE_TEST_ID = 'theme-toggle';
/** Windows a sparkline shows. */
export const SPARKLINE_WINDOWS = 30;
/** History requests in flight at once. */
export const HISTORY_CONCURRENCY = 3;
/** How often the age of the data and the stale check are refreshed. */
export const AGE_TICK_MS = 1_000;
/** The selected coin is kept in the address: `#coin=<coin_id>` (a link opens on that coin). */
export const COIN_HASH_PREFIX = '#coin=';

const THEME_LABELS: Record<Theme, string> = { system: 'System', light: 'Light', dark: 'Dark' };

export interface DashboardDeps {
  readonly transport: Transport;
  /** Draws the charts (lightweight-charts in the browser). */
  readonly charts: ChartKit;
  /** For `GET /api/history` (default: the global `fetch`). */
  readonly fetch?: typeof fetch;
  /** BCP 47 locale for numbers and times (default: the reader's). */
  readonly locale?: string;
  readonly random?: () => number;
  readonly onProblem?: (text: string) => void;
  /** When to draw (default: `requestAnimationFrame`). */
  readonly requestFrame?: RequestFrame;
  /** Where the theme pick is remembered (default: `localStorage`). */
  readonly storage?: Storage;
}

export interface Dashboard {
  readonly connection: LiveConnection;
  /** What the status indicator shows now. */
  status(): ConnectionStatus;
  stop(): void;
}

function defaultStorage(view: Window | null): Storage | undefined {
  try {
    return view?.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}

export function startDashboard(root: HTMLElement, config: DashboardConfig, deps: DashboardDeps): Dashboard {
  const doc = root.ownerDocument;
  const view = doc.defaultView;
  const format = createFormatters({ locale: deps.locale, currency: config.currency });
  const report = deps.onProblem ?? ((text: string) => console.warn(text));
  const fetchFn = deps.fetch ?? ((input, init) => fetch(input, init));
  const storage = deps.storage ?? defaultStorage(view);

  let market: MarketState = EMPTY_MARKET;
  let history: HistoryState = EMPTY_HISTORY;
  let alerts: AlertState = EMPTY_ALERTS;
  let sort: SortState = DEFAULT_SORT;
  let style: ChartStyle = 'candles';
  let selected: string | null = coinFromHash(view?.location.hash ?? '');
  let theme: Theme = storedTheme(storage);
  /** When the newest data arrived (reader's clock), and when the socket last went live. */
  let dataAt: number | null = null;
  let liveSince: number | null = null;
  let windowMs = DEFAULT_WINDOW_MS;
  let stopped = false;
  /** Cancels the history requests in flight when the dashboard stops. */
  const requests = new AbortController();
  /** Coins whose history was asked for since the last snapshot; the endpoint's absence. */
  let backfilled = new Set<string>();
  let historyMissing = false;
  const sparkCache = new Map<string, { source: readonly Aggregate[]; points: SparkPoint[] }>();

  applyTheme(doc.documentElement, theme);
  let colors = chartColors(doc);

  // --- views ----------------------------------------------------------------------------------
  const status = new StatusIndicator(doc);
  const age = new DataAge(doc);
  const lastUpdate = doc.createElement('span');
  lastUpdate.className = 'last-update';
  lastUpdate.dataset.testid = LAST_UPDATE_TEST_ID;
  const themeButton = doc.createElement('button');
  themeButton.type = 'button';
  themeButton.className = 'theme-toggle';
  themeButton.dataset.testid = THEME_TOGGLE_TEST_ID;

  const header = doc.createElement('header');
  header.className = 'topbar';
  const heading = doc.createElement('h1');
  heading.textContent = TITLE;
  const meta = doc.createElement('div');
  meta.className = 'meta';
  meta.append(status.element, age.element, lastUpdate, themeButton);
  header.append(heading, meta);

  const overview = new OverviewCards(doc, format);
  const panel = new CoinPanel(doc, {
    format,
    charts: deps.charts,
    colors,
    onSelect: (coinId) => select(coinId),
    onStyle: (next) => {
      style = next;
      scheduler.schedule();
    },
  });
  const bars = new ComparisonBars(doc, format);
  const alertList = new AlertList(doc, format);
  const table = new MarketTable(doc, {
    format,
    charts: deps.charts,
    colors,
    onSort: (key: SortKey) => {
      sort = nextSort(sort, key);
      scheduler.schedule();
    },
    onSelect: (coinId) => select(coinId),
  });
  const tableSection = doc.createElement('section');
  tableSection.className = 'panel markets';
  tableSection.setAttribute('aria-labelledby', 'markets-heading');
  const tableHeading = doc.createElement('h2');
  tableHeading.id = 'markets-heading';
  tableHeading.textContent = 'Markets';
  tableSection.append(tableHeading, table.element);

  const main = doc.createElement('main');
  main.className = 'layout';
  main.append(overview.element, panel.element, tableSection, alertList.element, bars.element);
  root.replaceChildren(header, main);

  // --- drawing --------------------------------------------------------------------------------
  const scheduler = new FrameScheduler(draw, deps.requestFrame);

  function sparklines(): Map<string, readonly SparkPoint[]> {
    const result = new Map<string, readonly SparkPoint[]>();
    for (const [coinId, records] of history) {
      let cached = sparkCache.get(coinId);
      if (cached === undefined || cached.source !== records) {
        const points = records.slice(-SPARKLINE_WINDOWS).map((record) => ({
          time: Math.floor(Date.parse(record.window_start) / 1000),
          value: record.close,
        }));
        cached = { source: records, points };
        sparkCache.set(coinId, cached);
      }
      result.set(coinId, cached.points);
    }
    return result;
  }

  function draw(): void {
    const records = sortAggregates(market.values(), sort);
    if (selected === null || !market.has(selected)) {
      const fallback = records[0]?.coin_id ?? null;
      if (fallback !== null) selected = fallback;
    }
    table.render(records, sort, { selected, sparklines: sparklines() });
    const all = [...market.values()];
    overview.render(marketOverview(all));
    bars.render(comparisonBars(all), selected);
    alertList.render(alerts.alerts);
    panel.renderChoices(
      records.map((record) => ({ coinId: record.coin_id, label: `${record.coin} · ${record.name || record.coin_id}` })),
      selected,
    );
    const current = selected === null ? undefined : market.get(selected);
    const coinHistory = selected === null ? undefined : history.get(selected);
    panel.render(current, candlesOf(coinHistory ?? []), style, windowMs);
    const latest = latestTimestamp(market);
    lastUpdate.textContent = latest === null ? '' : `Data as of ${format.time(latest)}`;
    if (latest === null) delete lastUpdate.dataset.timestamp;
    else lastUpdate.dataset.timestamp = latest;
    drawStatus();
  }

  function currentStatus(now: number): ConnectionStatus {
    const state = connection.status;
    if (state.kind !== 'live') return state;
    const since = dataAt ?? liveSince;
    return since !== null && isStale(since, now, staleAfterMs(windowMs)) ? { kind: 'stale' } : state;
  }

  function drawStatus(): void {
    const now = Date.now();
    const shown = currentStatus(now);
    status.render(shown);
    root.dataset.status = shown.kind;
    const ageMs = dataAt === null ? null : now - dataAt;
    age.render(ageMs, ageMs !== null && ageMs > staleAfterMs(windowMs));
    // The tab's title carries the selected coin's price and any trouble, for a screen kept in a
    // background tab (this runs on the age timer too, which hidden tabs still get, if slowly).
    const record = selected === null ? undefined : market.get(selected);
    const quote = record === undefined ? '' : `${record.coin} ${format.price(record.price)} · `;
    const trouble = shown.kind === 'stale' || shown.kind === 'reconnecting' ? `(${shown.kind}) ` : '';
    const title = `${trouble}${quote}${TITLE}`;
    if (doc.title !== title) doc.title = title;
  }

  function drawTheme(): void {
    themeButton.textContent = `Theme: ${THEME_LABELS[theme]}`;
    themeButton.setAttribute('aria-label', `Colour theme: ${THEME_LABELS[theme]} (change)`);
  }

  function recolor(): void {
    colors = chartColors(doc);
    panel.setColors(colors);
    table.setColors(colors);
  }

  // --- interaction ----------------------------------------------------------------------------
  function select(coinId: string): void {
    if (coinId === selected) return;
    selected = coinId;
    const hash = `${COIN_HASH_PREFIX}${encodeURIComponent(coinId)}`;
    if (view !== null && view.location.hash !== hash) view.history.replaceState(null, '', hash);
    scheduler.schedule();
  }

  themeButton.addEventListener('click', () => {
    theme = nextTheme(theme);
    applyTheme(doc.documentElement, theme);
    storeTheme(storage, theme);
    drawTheme();
    recolor();
  });
  const onHashChange = (): void => {
    const coinId = coinFromHash(view?.location.hash ?? '');
    if (coinId !== null) select(coinId);
  };
  view?.addEventListener('hashchange', onHashChange);
  const darkQuery = typeof view?.matchMedia === 'function' ? view.matchMedia('(prefers-color-scheme: dark)') : null;
  const onSystemTheme = (): void => {
    if (theme === 'system') recolor();
  };
  darkQuery?.addEventListener?.('change', onSystemTheme);

  // --- data -----------------------------------------------------------------------------------
  function onMessage(message: ServerMessage): void {
    const before = market;
    const fresh = message.data.some((record) => isNewer(record, before.get(record.coin_id)));
    if (message.kind === 'snapshot') {
      // A snapshot resynchronises the table, except an empty one from an API that has just
      // restarted and knows nothing yet: the rows stay (ageing) until its first records arrive.
      if (message.data.length > 0 || market.size === 0) market = resync(market, message.data);
      backfilled = new Set();
      historyMissing = false;
    } else {
      market = mergeRecords(market, message.data);
    }
    history = mergeHistory(history, message.data);
    alerts = raiseAlerts(alerts, before, market);
    if (fresh) {
      dataAt = Date.now();
      const newest = message.data.reduce<Aggregate | undefined>(
        (a, b) => (a === undefined || Date.parse(b.window_start) > Date.parse(a.window_start) ? b : a),
        undefined,
      );
      windowMs = (newest === undefined ? null : windowMillis(newest)) ?? windowMs;
    }
    void backfill([...market.keys()].filter((coinId) => !backfilled.has(coinId)));
    scheduler.schedule();
  }

  async function backfill(coinIds: readonly string[]): Promise<void> {
    if (historyMissing || coinIds.length === 0) return;
    for (const coinId of coinIds) backfilled.add(coinId);
    const queue = [...coinIds];
    const worker = async (): Promise<void> => {
      for (let coinId = queue.shift(); coinId !== undefined; coinId = queue.shift()) {
        if (stopped || historyMissing) return;
        const result = await fetchHistory(config.apiUrl, coinId, fetchFn, requests.signal);
        if (stopped) return;
        if (result.kind === 'missing') {
          if (!historyMissing) {
            historyMissing = true;
            report(`${config.apiUrl}api/history answered 404: no history to backfill; charts fill from live data`);
          }
          return;
        }
        if (result.kind === 'failed') {
          report(`history of ${coinId} not loaded (${result.reason}); its chart fills from live data`);
          backfilled.delete(coinId);
          continue;
        }
        for (const problem of result.problems) report(`history of ${coinId}: ${problem}`);
        const next = mergeHistory(history, result.records);
        if (next !== history) {
          history = next;
          scheduler.schedule();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(HISTORY_CONCURRENCY, queue.length) }, worker));
  }

  function onStatus(state: ConnectionState): void {
    if (state.kind === 'live') liveSince = Date.now();
    drawStatus();
  }

  const connection = new LiveConnection({
    url: config.wsUrl,
    transport: deps.transport,
    onMessage,
    onStatus,
    onProblem: report,
    ...(deps.random === undefined ? {} : { random: deps.random }),
  });
  const ticker = setInterval(drawStatus, AGE_TICK_MS);
  drawTheme();
  draw();
  connection.start();
  drawStatus();

  return {
    connection,
    status: () => currentStatus(Date.now()),
    stop: () => {
      stopped = true;
      requests.abort();
      connection.stop();
      scheduler.stop();
      clearInterval(ticker);
      view?.removeEventListener('hashchange', onHashChange);
      darkQuery?.removeEventListener?.('change', onSystemTheme);
      table.destroy();
      panel.destroy();
    },
  };
}

/** The coin named by `#coin=<coin_id>`, or null. */
export function coinFromHash(hash: string): string | null {
  if (!hash.startsWith(COIN_HASH_PREFIX)) return null;
  try {
    const coinId = decodeURIComponent(hash.slice(COIN_HASH_PREFIX.length));
    return coinId === '' ? null : coinId;
  } catch {
    return null;
  }
}
