import { describe, expect, it, vi } from 'vitest';
import { CONFIG_PATH, loadConfig, resolveConfig } from '../src/config';

const PAGE = { href: 'http://127.0.0.1:8000/' };
const SECURE_PAGE = { href: 'https://pulse.example.org/dashboard/index.html' };
const DEFAULTS = { wsUrl: 'ws://127.0.0.1:8000/ws', apiUrl: 'http://127.0.0.1:8000/', currency: 'USD' };

describe('resolveConfig', () => {
  it('defaults every empty or missing field to the page origin', () => {
    const warn = vi.fn();
    for (const raw of [{ wsUrl: '', apiUrl: '' }, {}, null, 'junk']) {
      expect(resolveConfig(raw, PAGE, warn)).toEqual(DEFAULTS);
    }
    expect(warn).not.toHaveBeenCalled();
  });

  it('uses wss and the host root on an https page', () => {
    expect(resolveConfig({}, SECURE_PAGE)).toEqual({
      wsUrl: 'wss://pulse.example.org/ws',
      apiUrl: 'https://pulse.example.org/',
      currency: 'USD',
    });
  });

  it('takes absolute and relative URLs, mapping http(s) to ws(s)', () => {
    expect(
      resolveConfig({ wsUrl: 'wss://api.example.org/ws', apiUrl: 'https://api.example.org/v1', currency: 'eur' }, PAGE),
    ).toEqual({ wsUrl: 'wss://api.example.org/ws', apiUrl: 'https://api.example.org/v1/', currency: 'EUR' });
    expect(resolveConfig({ wsUrl: '/stream/ws', apiUrl: 'api/' }, SECURE_PAGE)).toEqual({
      wsUrl: 'wss://pulse.example.org/stream/ws',
      apiUrl: 'https://pulse.example.org/dashboard/api/',
      currency: 'USD',
    });
    expect(resolveConfig({ wsUrl: 'http://api:8000/ws' }, PAGE).wsUrl).toBe('ws://api:8000/ws');
  });

  it('falls back, with a warning that names the field, on values it cannot use', () => {
    const warn = vi.fn();
    expect(resolveConfig({ wsUrl: 'ftp://x/ws', apiUrl: 42, currency: 'dollars' }, PAGE, warn)).toEqual(DEFAULTS);
    expect(warn.mock.calls.map(([text]) => text)).toEqual([
      `${CONFIG_PATH}: wsUrl "ftp://x/ws" is not a ws(s) or http(s) URL; using ws://127.0.0.1:8000/ws`,
      `${CONFIG_PATH}: apiUrl should be a string, got 42; using the default`,
      `${CONFIG_PATH}: currency "dollars" is not an ISO 4217 code; using USD`,
    ]);
  });
});

describe('loadConfig', () => {
  it('fetches config.json next to the page, bypassing the cache', async () => {
    const fetchFn = vi.fn(async () => Response.json({ wsUrl: 'ws://api:8000/ws', apiUrl: '' }));
    await expect(loadConfig(SECURE_PAGE, fetchFn)).resolves.toEqual({
      wsUrl: 'ws://api:8000/ws',
      apiUrl: 'https://pulse.example.org/',
      currency: 'USD',
    });
    expect(fetchFn).toHaveBeenCalledWith(
      'https://pulse.example.org/dashboard/config.json',
      expect.objectContaining({ cache: 'no-store' }),
    );
  });

  it('uses the defaults when the file is missing, broken or unreachable', async () => {
    const warn = vi.fn();
    const answers = [
      async () => new Response('not found', { status: 404 }),
      async () => new Response('{ nope', { status: 200 }),
      async () => {
        throw new TypeError('Failed to fetch');
      },
    ];
    for (const answer of answers) {
      await expect(loadConfig(PAGE, vi.fn(answer), warn)).resolves.toEqual(DEFAULTS);
    }
    expect(warn).toHaveBeenCalledTimes(3);
    expect(warn.mock.calls[0]?.[0]).toBe(
      "http://127.0.0.1:8000/config.json answered 404; using the page's origin for the API",
    );
  });
});
