/**
 * The WebSocket session with the API server: connect, parse, reconnect with backoff. DOM-free:
 * the socket comes from a {@link Transport}, so tests drive it with a fake or a real socket alike,
 * and time comes from the global timers (fake timers in tests).
 *
 * Whether the data is fresh is not the socket's business: the dashboard turns a `live`
 * connection into `stale` when no new record has arrived for two windows (see `staleness.ts`).
 */

import { backoffDelay } from './backoff';
import { parseServerMessage, type ServerMessage } from './contract';

/** The state of the socket itself. */
export type ConnectionState =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'live' }
  | { readonly kind: 'reconnecting'; readonly attempt: number };

/** What the status indicator shows: the socket's state, or `stale` over a live socket. */
export type ConnectionStatus = ConnectionState | { readonly kind: 'stale' };

/** The text of the status indicator (tests and users read exactly this). */
export function statusText(status: ConnectionStatus): string {
  return status.kind === 'reconnecting' ? `reconnecting (attempt ${status.attempt})` : status.kind;
}

/** A socket that does not open within this long is dropped and retried. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** The client sends a text frame this often, so a dead TCP connection is noticed and closed. */
export const HEARTBEAT_INTERVAL_MS = 25_000;
/** What the heartbeat sends (the API server reads and ignores any client text). */
export const HEARTBEAT_MESSAGE = 'ping';

export interface SocketHandlers {
  open(): void;
  message(text: string): void;
  close(code: number, reason: string): void;
  error(): void;
}

export interface SocketHandle {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a socket to `url` that reports to `handlers`. */
export type Transport = (url: string, handlers: SocketHandlers) => SocketHandle;

/** A {@link Transport} over the WHATWG `WebSocket` (the browser's, or happy-dom's in tests). */
export function webSocketTransport(WebSocketClass: typeof WebSocket = WebSocket): Transport {
  return (url, handlers) => {
    const socket = new WebSocketClass(url);
    socket.onopen = () => handlers.open();
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data === 'string') handlers.message(event.data);
    };
    socket.onclose = (event: CloseEvent) => handlers.close(event.code, event.reason);
    socket.onerror = () => handlers.error();
    return {
      send: (text) => {
        if (socket.readyState === WebSocketClass.OPEN) socket.send(text);
      },
      close: (code, reason) => {
        socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
        socket.close(code, reason);
      },
    };
  };
}

export interface ConnectionOptions {
  readonly url: string;
  readonly transport: Transport;
  readonly onMessage: (message: ServerMessage) => void;
  readonly onStatus: (status: ConnectionState) => void;
  /** Where contract violations and connection failures are reported (default `console.warn`). */
  readonly onProblem?: (text: string) => void;
  /** Jitter source in [0, 1) (default `Math.random`). */
  readonly random?: () => number;
}

type Timer = ReturnType<typeof setTimeout>;

export class LiveConnection {
  private readonly options: ConnectionOptions;
  private socket: SocketHandle | null = null;
  /** Bumped whenever a socket is abandoned, so late events from it are ignored. */
  private generation = 0;
  /** Failed attempts since the last valid message. */
  private failures = 0;
  private running = false;
  private current: ConnectionState = { kind: 'connecting' };
  private connectTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ConnectionOptions) {
    this.options = options;
  }

  get status(): ConnectionState {
    return this.current;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    this.setStatus({ kind: 'connecting' });
    this.open();
  }

  stop(): void {
    this.running = false;
    this.abandonSocket(1000, 'dashboard closed');
    clearTimeout(this.retryTimer);
  }

  private open(): void {
    const generation = ++this.generation;
    let sawError = false;
    const mine = (handler: () => void): void => {
      if (generation === this.generation && this.running) handler();
    };
    try {
      this.socket = this.options.transport(this.options.url, {
        open: () => mine(() => this.handleOpen()),
        message: (text) => mine(() => this.handleMessage(text)),
        // A failing WebSocket fires `error` and then always `close`; the close carries the code.
        error: () => mine(() => (sawError = true)),
        close: (code, reason) =>
          mine(() => this.fail(`${sawError ? 'failed' : 'closed'} (code ${code}${reason ? `: ${reason}` : ''})`)),
      });
    } catch (error) {
      // The WebSocket constructor throws on a malformed URL or a blocked port.
      this.fail(`could not be created (${String(error)})`);
      return;
    }
    this.connectTimer = setTimeout(
      () => mine(() => this.fail(`did not open within ${CONNECT_TIMEOUT_MS / 1000} s`)),
      CONNECT_TIMEOUT_MS,
    );
  }

  private handleOpen(): void {
    clearTimeout(this.connectTimer);
    this.heartbeatTimer = setInterval(() => this.socket?.send(HEARTBEAT_MESSAGE), HEARTBEAT_INTERVAL_MS);
  }

  private handleMessage(text: string): void {
    const { message, problems } = parseServerMessage(text);
    for (const problem of problems) this.report(`${this.options.url}: ${problem}`);
    if (message === null) return;
    this.failures = 0;
    this.setStatus({ kind: 'live' });
    this.options.onMessage(message);
  }

  private fail(what: string): void {
    this.abandonSocket(4000, 'reconnecting');
    this.failures += 1;
    const delay = backoffDelay(this.failures, this.options.random);
    this.report(
      `WebSocket ${this.options.url} ${what}; reconnect attempt ${this.failures} in ` +
        `${(delay / 1000).toFixed(1)} s`,
    );
    this.setStatus({ kind: 'reconnecting', attempt: this.failures });
    this.retryTimer = setTimeout(() => {
      if (this.running) this.open();
    }, delay);
  }

  private abandonSocket(code: number, reason: string): void {
    this.generation += 1;
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeatTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(code, reason);
  }

  private setStatus(status: ConnectionState): void {
    if (statusText(status) === statusText(this.current)) return;
    this.current = status;
    this.options.onStatus(status);
  }

  private report(text: string): void {
    if (this.options.onProblem === undefined) console.warn(text);
    else this.options.onProblem(text);
  }
}
