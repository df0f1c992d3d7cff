/**
 * A scripted stand-in for the WebSocket, for tests that need exact control of time and events.
 * It plays the browser's event order: `open`, `message`s, then `error` and/or `close` once.
 */

import type { SocketHandle, SocketHandlers, Transport } from '../src/connection';

export class FakeSocket implements SocketHandle {
  readonly url: string;
  readonly sent: string[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;
  private readonly handlers: SocketHandlers;

  constructor(url: string, handlers: SocketHandlers) {
    this.url = url;
    this.handlers = handlers;
  }

  send(text: string): void {
    this.sent.push(text);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  serverOpens(): void {
    this.handlers.open();
  }

  serverSends(text: string): void {
    this.handlers.message(text);
  }

  /** The connection breaks: the browser fires `error`, then `close`. */
  serverCloses(code = 1006, reason = ''): void {
    this.handlers.error();
    this.handlers.close(code, reason);
  }

  /** The server closes with a close frame: only `close` fires. */
  serverClosesCleanly(code: number, reason: string): void {
    this.handlers.close(code, reason);
  }
}

export class FakeTransport {
  readonly sockets: FakeSocket[] = [];
  readonly transport: Transport = (url, handlers) => {
    const socket = new FakeSocket(url, handlers);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error('no socket was opened');
    return socket;
  }
}
