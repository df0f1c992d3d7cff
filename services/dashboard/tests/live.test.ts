// @vitest-environment happy-dom
/**
 * The dashboard against a real WebSocket server over real sockets: happy-dom's WHATWG WebSocket on
 * the client side, and on the server side a stand-in that speaks the API server's `/ws` protocol
 * (a snapshot on connect, then update messages).
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { type Dashboard, startDashboard } from '../src/app';
import { webSocketTransport } from '../src/connection';
import { type Aggregate, MARKET_UPDATE_MESSAGE, SNAPSHOT_MESSAGE } from '../src/contract';
import { EMPTY_HISTORY, type HistoryState, mergeHistory } from '../src/history';
import { fromSnapshot, type MarketState, mergeRecords } from '../src/market';
import { STATUS_TEST_ID } from '../src/view/status';
import { FakeCharts } from './fake-charts';
import { aggregate, BITCOIN, DOGECOIN, ETHEREUM, frame } from './fixtures';

/**
 * Serves `/ws` like `cryptopulse_api.app`: snapshot first, then every broadcast; and
 * `GET /api/history?coin=<id>` from every record it has broadcast, one per window.
 */
class StandInApi {
  market: MarketState = fromSnapshot([]);
  history: HistoryState = EMPTY_HISTORY;
  /** `GET /api/history` requests answered (happy-dom also sends CORS preflights). */
  historyRequests = 0;
  private http: Server | null = null;
  private sockets: WebSocketServer | null = null;
  port = 0;

  async listen(port = 0): Promise<void> {
    const http = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const coinId = url.searchParams.get('coin') ?? '';
      if (url.pathname !== '/api/history') {
        response.writeHead(404).end();
        return;
      }
      if (request.method === 'GET') this.historyRequests += 1;
      response
        .writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' })
        .end(JSON.stringify({ coin_id: coinId, data: this.history.get(coinId) ?? [] }));
    });
    const sockets = new WebSocketServer({ server: http, path: '/ws' });
    sockets.on('connection', (socket) => {
      socket.send(frame(SNAPSHOT_MESSAGE, [...this.market.values()]));
    });
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.sockets = sockets;
  }

  broadcast(records: readonly Aggregate[]): void {
    this.market = mergeRecords(this.market, records);
    this.history = mergeHistory(this.history, records);
    for (const client of this.sockets?.clients ?? []) client.send(frame(MARKET_UPDATE_MESSAGE, records));
  }

  /** Drop every connection without a close frame, as a crashed server or a cut network does. */
  async stop(): Promise<void> {
    for (const client of this.sockets?.clients ?? []) client.terminate();
    await new Promise<void>((resolve) => this.sockets?.close(() => resolve()) ?? resolve());
    await new Promise<void>((resolve) => this.http?.close(() => resolve()) ?? resolve());
    this.http = null;
    this.sockets = null;
  }
}

let api: StandInApi;
let charts: FakeCharts;
let root: HTMLElement;
let dashboard: Dashboard | null = null;

const status = (): string | null | undefined =>
  root.querySelector(`[data-testid="${STATUS_TEST_ID}"]`)?.textContent;
const rowIds = (): (string | undefined)[] =>
  [...root.querySelectorAll<HTMLElement>('tr[data-coin-id]')].map((row) => row.dataset.coinId);
const price = (coinId: string): string | null | undefined =>
  root.querySelector(`tr[data-coin-id="${coinId}"] .price`)?.textContent;

async function until(check: () => void, timeout = 5_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

beforeEach(async () => {
  api = new StandInApi();
  await api.listen();
  charts = new FakeCharts();
  root = document.createElement('div');
  document.body.replaceChildren(root);
});

afterEach(async () => {
  dashboard?.stop();
  dashboard = null;
  await api.stop();
});

function start(): void {
  dashboard = startDashboard(
    root,
    { wsUrl: `ws://127.0.0.1:${api.port}/ws`, apiUrl: `http://127.0.0.1:${api.port}/`, currency: 'USD' },
    {
      transport: webSocketTransport(WebSocket),
      charts,
      locale: 'en-US',
      random: () => 0,
      onProblem: () => undefined,
      requestFrame: (draw) => setTimeout(draw, 0),
    },
  );
}

describe('the dashboard over a real WebSocket', () => {
  it('goes live on an empty snapshot, then fills the table from updates', async () => {
    start();
    expect(status()).toBe('connecting');
    await until(() => expect(status()).toBe('live'));
    expect(rowIds()).toEqual([]);
    api.broadcast([ETHEREUM, BITCOIN]);
    await until(() => expect(rowIds()).toEqual(['bitcoin', 'ethereum']));
    api.broadcast([aggregate({ window_start: '2026-11-28T17:01:00.000Z', price: 101_234.5 })]);
    await until(() => expect(price('bitcoin')).toBe('$101,234.50'));
    // One history request per coin, each answered.
    await until(() => expect(api.historyRequests).toBe(2));
  });

  it('survives a server restart: reconnects with backoff and resyncs from the new snapshot', async () => {
    api.market = fromSnapshot([BITCOIN, ETHEREUM]);
    start();
    await until(() => expect(rowIds()).toEqual(['bitcoin', 'ethereum']));
    expect(status()).toBe('live');
    // Its history backfill is answered before the server goes away (no request cut mid-way).
    await until(() => expect(api.historyRequests).toBe(2));

    const port = api.port;
    await api.stop();
    await until(() => expect(status()).toBe('reconnecting (attempt 2)'));
    expect(rowIds()).toEqual(['bitcoin', 'ethereum']);

    api.market = fromSnapshot([DOGECOIN]);
    await api.listen(port);
    await until(() => expect(rowIds()).toEqual(['dogecoin']));
    expect(status()).toBe('live');
    expect(price('dogecoin')).toBe('$0.3812');
    // The resync asks for history again.
    await until(() => expect(api.historyRequests).toBe(3));
  });

  it('backfills the chart from GET /api/history over real HTTP', async () => {
    const windows = [0, 1, 2].map((n) =>
      aggregate({
        window_start: new Date(Date.parse(BITCOIN.window_start) + n * 60_000).toISOString(),
        window_end: new Date(Date.parse(BITCOIN.window_end) + n * 60_000).toISOString(),
        timestamp: new Date(Date.parse(BITCOIN.timestamp) + n * 60_000).toISOString(),
        close: 96_000 + n,
      }),
    );
    api.broadcast(windows);
    start();
    await until(() => expect(charts.price.candles.map((candle) => candle.close)).toEqual([96_000, 96_001, 96_002]));
  });
});
