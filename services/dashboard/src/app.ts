/**
 * The dashboard: wires the connection, the market state and the views together. The only module
 * that owns mutable state; everything it calls is either pure (market, sort) or a view.
 */

import type { DashboardConfig } from './config';
import { type ConnectionStatus, LiveConnection, type Transport } from './connection';
import type { ServerMessage } from './contract';
import { createFormatters } from './format';
import { EMPTY_MARKET, fromSnapshot, latestTimestamp, type MarketState, mergeRecords } from './market';
import { DEFAULT_SORT, nextSort, type SortKey, type SortState, sortAggregates } from './sort';
import { StatusIndicator } from './view/status';
import { MarketTable } from './view/table';

export const TITLE = 'Crypto Market Pulse';
export const LAST_UPDATE_TEST_ID = 'last-update';

export interface DashboardDeps {
  readonly transport: Transport;
  /** BCP 47 locale for numbers and times (default: the reader's). */
  readonly locale?: string;
  readonly random?: () => number;
  readonly onProblem?: (text: string) => void;
}

export interface Dashboard {
  readonly connection: LiveConnection;
  stop(): void;
}

export function startDashboard(root: HTMLElement, config: DashboardConfig, deps: DashboardDeps): Dashboard {
  const doc = root.ownerDocument;
  const format = createFormatters({ locale: deps.locale, currency: config.currency });
  let market: MarketState = EMPTY_MARKET;
  let sort: SortState = DEFAULT_SORT;

  const table = new MarketTable(doc, {
    format,
    onSort: (key: SortKey) => {
      sort = nextSort(sort, key);
      renderMarket();
    },
  });
  const status = new StatusIndicator(doc);
  const lastUpdate = doc.createElement('span');
  lastUpdate.className = 'last-update';
  lastUpdate.dataset.testid = LAST_UPDATE_TEST_ID;

  const header = doc.createElement('header');
  header.className = 'topbar';
  const heading = doc.createElement('h1');
  heading.textContent = TITLE;
  const meta = doc.createElement('div');
  meta.className = 'meta';
  meta.append(status.element, lastUpdate);
  header.append(heading, meta);
  const main = doc.createElement('main');
  main.append(table.element);
  root.replaceChildren(header, main);

  function renderMarket(): void {
    table.render(sortAggregates(market.values(), sort), sort);
    const latest = latestTimestamp(market);
    lastUpdate.textContent = latest === null ? '' : `Data as of ${format.time(latest)}`;
  }

  function renderStatus(next: ConnectionStatus): void {
    status.render(next);
    root.dataset.status = next.kind;
  }

  function onMessage(message: ServerMessage): void {
    const next = message.kind === 'snapshot' ? fromSnapshot(message.data) : mergeRecords(market, message.data);
    if (next === market && message.kind !== 'snapshot') return;
    market = next;
    renderMarket();
  }

  const connection = new LiveConnection({
    url: config.wsUrl,
    transport: deps.transport,
    onMessage,
    onStatus: renderStatus,
    ...(deps.onProblem === undefined ? {} : { onProblem: deps.onProblem }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
  });
  renderMarket();
  renderStatus(connection.status);
  connection.start();
  return { connection, stop: () => connection.stop() };
}
