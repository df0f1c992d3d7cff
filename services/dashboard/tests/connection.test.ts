import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from '../src/backoff';
import {
  CONNECT_TIMEOUT_MS,
  type ConnectionStatus,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_MESSAGE,
  LiveConnection,
  statusText,
} from '../src/connection';
import { type ServerMessage, SNAPSHOT_MESSAGE } from '../src/contract';
import { FakeTransport } from './fake-transport';
import { BITCOIN, frame } from './fixtures';

const URL = 'ws://127.0.0.1:8000/ws';

function setup() {
  const fake = new FakeTransport();
  const statuses: string[] = [];
  const messages: ServerMessage[] = [];
  const problems: string[] = [];
  const connection = new LiveConnection({
    url: URL,
    transport: fake.transport,
    onMessage: (message) => messages.push(message),
    onStatus: (status) => statuses.push(statusText(status)),
    onProblem: (text) => problems.push(text),
    random: () => 0.999_999, // the top of each backoff range
  });
  return { fake, statuses, messages, problems, connection };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('statusText', () => {
  it('spells the four states the indicator shows (stale is the dashboard\'s, over a live socket)', () => {
    const texts = (
      [{ kind: 'connecting' }, { kind: 'live' }, { kind: 'reconnecting', attempt: 3 }, { kind: 'stale' }] as const
    ).map((status: ConnectionStatus) => statusText(status));
    expect(texts).toEqual(['connecting', 'live', 'reconnecting (attempt 3)', 'stale']);
  });
});

describe('LiveConnection', () => {
  it('is connecting until the first message, then live', () => {
    const { fake, statuses, messages, connection } = setup();
    connection.start();
    expect(statusText(connection.status)).toBe('connecting');
    expect(fake.last.url).toBe(URL);
    fake.last.serverOpens();
    expect(statusText(connection.status)).toBe('connecting');
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN]));
    expect(statuses).toEqual(['live']);
    expect(messages).toEqual([{ kind: 'snapshot', data: [BITCOIN] }]);
  });

  it('reconnects with growing, capped delays and resets them once data flows again', () => {
    const { fake, statuses, connection } = setup();
    connection.start();
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, []));
    fake.last.serverCloses(1012, 'service restart');
    expect(fake.sockets).toHaveLength(1);
    expect(statuses.at(-1)).toBe('reconnecting (attempt 1)');

    vi.advanceTimersByTime(BACKOFF_BASE_MS - 1);
    expect(fake.sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(fake.sockets).toHaveLength(2);

    // The server refuses a few times: the delays double up to the cap.
    const delays: number[] = [];
    for (let attempt = 2; attempt <= 8; attempt += 1) {
      fake.last.serverCloses();
      expect(statuses.at(-1)).toBe(`reconnecting (attempt ${attempt})`);
      const before = fake.sockets.length;
      const started = Date.now();
      while (fake.sockets.length === before) vi.advanceTimersByTime(100);
      delays.push(Date.now() - started);
    }
    expect(delays).toEqual([2_000, 4_000, 8_000, 16_000, BACKOFF_CAP_MS, BACKOFF_CAP_MS, BACKOFF_CAP_MS]);

    // An open socket is not enough: attempts reset only when a snapshot arrives.
    fake.last.serverOpens();
    expect(statuses.at(-1)).toBe('reconnecting (attempt 8)');
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN]));
    expect(statuses.at(-1)).toBe('live');
    fake.last.serverCloses();
    expect(statuses.at(-1)).toBe('reconnecting (attempt 1)');
  });

  it('counts one failure when the browser reports both error and close, and says why', () => {
    const { fake, statuses, problems, connection } = setup();
    connection.start();
    fake.last.serverCloses(1006);
    expect(statuses).toEqual(['reconnecting (attempt 1)']);
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, []));
    fake.last.serverClosesCleanly(1008, 'Too many connections');
    expect(problems).toEqual([
      `WebSocket ${URL} failed (code 1006); reconnect attempt 1 in 1.0 s`,
      `WebSocket ${URL} closed (code 1008: Too many connections); reconnect attempt 1 in 1.0 s`,
    ]);
    expect(fake.sockets[0]?.closedWith).toEqual({ code: 4000, reason: 'reconnecting' });
  });

  it('gives up on a socket that never opens', () => {
    const { fake, statuses, problems, connection } = setup();
    connection.start();
    vi.advanceTimersByTime(CONNECT_TIMEOUT_MS);
    expect(statuses).toEqual(['reconnecting (attempt 1)']);
    expect(problems[0]).toContain('did not open within 10 s');
    vi.advanceTimersByTime(BACKOFF_BASE_MS);
    expect(fake.sockets).toHaveLength(2);
  });

  it('stays live however long the server is silent: freshness is the dashboard\'s business', () => {
    const { fake, statuses, connection } = setup();
    connection.start();
    fake.last.serverOpens();
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN]));
    vi.advanceTimersByTime(10 * 60_000);
    expect(statuses).toEqual(['live']);
  });

  it('does not count frames that are not market messages', () => {
    const { fake, statuses, problems, connection } = setup();
    connection.start();
    fake.last.serverOpens();
    fake.last.serverSends('{"type": "hello"}');
    expect(statuses).toEqual([]);
    expect(problems).toEqual([`${URL}: ignoring message of unknown type "hello"`]);
  });

  it('retries when the socket cannot even be created', () => {
    const problems: string[] = [];
    const statuses: string[] = [];
    let calls = 0;
    const connection = new LiveConnection({
      url: 'ws://127.0.0.1:8000/ws',
      transport: () => {
        calls += 1;
        throw new SyntaxError('The URL is invalid');
      },
      onMessage: () => undefined,
      onStatus: (status) => statuses.push(statusText(status)),
      onProblem: (text) => problems.push(text),
      random: () => 0,
    });
    connection.start();
    expect(statuses).toEqual(['reconnecting (attempt 1)']);
    expect(problems[0]).toBe(
      `WebSocket ${URL} could not be created (SyntaxError: The URL is invalid); reconnect attempt 1 in 0.5 s`,
    );
    vi.advanceTimersByTime(BACKOFF_BASE_MS / 2);
    expect(calls).toBe(2);
    expect(statuses.at(-1)).toBe('reconnecting (attempt 2)');
    connection.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('sends a heartbeat while open', () => {
    const { fake, connection } = setup();
    connection.start();
    fake.last.serverOpens();
    vi.advanceTimersByTime(2 * HEARTBEAT_INTERVAL_MS);
    expect(fake.last.sent).toEqual([HEARTBEAT_MESSAGE, HEARTBEAT_MESSAGE]);
  });

  it('stops for good: closes the socket, ignores its late events, schedules nothing', () => {
    const { fake, statuses, messages, connection } = setup();
    connection.start();
    fake.last.serverOpens();
    connection.stop();
    expect(fake.last.closedWith).toEqual({ code: 1000, reason: 'dashboard closed' });
    fake.last.serverSends(frame(SNAPSHOT_MESSAGE, [BITCOIN]));
    fake.last.serverCloses();
    vi.advanceTimersByTime(10 * BACKOFF_CAP_MS);
    expect(fake.sockets).toHaveLength(1);
    expect(statuses).toEqual([]);
    expect(messages).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
