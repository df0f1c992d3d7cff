import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TITLE } from '../src/app';
import { CONFIG_PATH, resolveConfig } from '../src/config';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('files served next to the app', () => {
  it('index.html carries the title and a phone-friendly viewport', () => {
    const html = read('index.html');
    expect(TITLE).toBe('Crypto Market Pulse');
    expect(html).toContain(`<title>${TITLE}</title>`);
    expect(html).toContain('name="viewport" content="width=device-width, initial-scale=1"');
    expect(html).toContain('<div id="app">');
  });

  it('the shipped config.json leaves every URL to the page origin', () => {
    const raw: unknown = JSON.parse(read(`public/${CONFIG_PATH}`));
    expect(raw).toEqual({ wsUrl: '', apiUrl: '' });
    expect(resolveConfig(raw, { href: 'https://pulse.example.org/' })).toEqual({
      wsUrl: 'wss://pulse.example.org/ws',
      apiUrl: 'https://pulse.example.org/',
      currency: 'USD',
    });
  });
});
