import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config';
import { LiveConnection } from '../src/connection';
import { FakeTransport } from './fake-transport';

/** A console whose methods need their `this`, as happy-dom's and some browsers' do. */
function strictConsole(): string[] {
  const warnings: string[] = [];
  const target = {
    warnings,
    warn(this: { warnings: string[] } | undefined, text: string): void {
      if (this === undefined) throw new TypeError('Illegal invocation');
      this.warnings.push(text);
    },
  };
  vi.stubGlobal('console', target);
  return warnings;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('default problem reporters', () => {
  it('call console.warn as a method', () => {
    const warnings = strictConsole();
    resolveConfig({ wsUrl: 'ftp://x' }, { href: 'http://localhost/' });
    vi.useFakeTimers();
    const fake = new FakeTransport();
    const connection = new LiveConnection({
      url: 'ws://localhost/ws',
      transport: fake.transport,
      onMessage: () => undefined,
      onStatus: () => undefined,
    });
    connection.start();
    fake.last.serverCloses();
    connection.stop();
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/^WebSocket ws:\/\/localhost\/ws failed \(code 1006\)/);
  });
});
