/**
 * Runtime configuration, read from `config.json` next to `index.html` at startup (not baked in at
 * build time: on Kubernetes the nginx container writes that file). An absent file or an empty
 * field means the page's own origin: `ws(s)://<host>/ws` and `/`.
 */

export const CONFIG_PATH = 'config.json';
export const CONFIG_TIMEOUT_MS = 5_000;
export const DEFAULT_CURRENCY = 'USD';
export const WS_PATH = '/ws';

export interface DashboardConfig {
  /** Absolute `ws:` or `wss:` URL of the API server's WebSocket. */
  readonly wsUrl: string;
  /** Absolute URL of the API server, ending in `/` (for `api/snapshot` and later endpoints). */
  readonly apiUrl: string;
  /** ISO 4217 code of the quote currency the producer asks for (`COINGECKO_VS_CURRENCY`). */
  readonly currency: string;
}

/** The parts of `window.location` the defaults are made from. */
export interface PageLocation {
  readonly href: string;
}

export type Warn = (text: string) => void;

/** `console.warn`, called as a method (some consoles need their `this`). */
const consoleWarn: Warn = (text) => console.warn(text);

function field(raw: unknown, name: string, warn: Warn): string {
  if (typeof raw !== 'object' || raw === null) return '';
  const value = (raw as Record<string, unknown>)[name];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') {
    warn(`${CONFIG_PATH}: ${name} should be a string, got ${JSON.stringify(value)}; using the default`);
    return '';
  }
  return value.trim();
}

function resolveWsUrl(text: string, page: PageLocation, warn: Warn): string {
  const fallback = new URL(WS_PATH, page.href);
  fallback.protocol = fallback.protocol === 'https:' ? 'wss:' : 'ws:';
  if (text === '') return fallback.href;
  try {
    const url = new URL(text, page.href);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    else if (url.protocol === 'https:') url.protocol = 'wss:';
    if (url.protocol === 'ws:' || url.protocol === 'wss:') return url.href;
  } catch {
    // reported below
  }
  warn(`${CONFIG_PATH}: wsUrl ${JSON.stringify(text)} is not a ws(s) or http(s) URL; using ${fallback.href}`);
  return fallback.href;
}

function resolveApiUrl(text: string, page: PageLocation, warn: Warn): string {
  const fallback = new URL('/', page.href).href;
  if (text === '') return fallback;
  try {
    const url = new URL(text, page.href);
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      if (!url.pathname.endsWith('/')) url.pathname += '/';
      return url.href;
    }
  } catch {
    // reported below
  }
  warn(`${CONFIG_PATH}: apiUrl ${JSON.stringify(text)} is not an http(s) URL; using ${fallback}`);
  return fallback;
}

function resolveCurrency(text: string, warn: Warn): string {
  if (text === '') return DEFAULT_CURRENCY;
  const code = text.toUpperCase();
  try {
    new Intl.NumberFormat(undefined, { style: 'currency', currency: code });
    return code;
  } catch {
    warn(`${CONFIG_PATH}: currency ${JSON.stringify(text)} is not an ISO 4217 code; using ${DEFAULT_CURRENCY}`);
    return DEFAULT_CURRENCY;
  }
}

/** Turn the parsed `config.json` (anything at all) into a complete configuration. */
export function resolveConfig(raw: unknown, page: PageLocation, warn: Warn = consoleWarn): DashboardConfig {
  return {
    wsUrl: resolveWsUrl(field(raw, 'wsUrl', warn), page, warn),
    apiUrl: resolveApiUrl(field(raw, 'apiUrl', warn), page, warn),
    currency: resolveCurrency(field(raw, 'currency', warn), warn),
  };
}

/**
 * Fetch and resolve `config.json`. Never fails: a missing, slow or malformed file falls back to
 * the defaults with a warning that says what was wrong.
 */
export async function loadConfig(
  page: PageLocation,
  fetchFn: typeof fetch = fetch,
  warn: Warn = consoleWarn,
): Promise<DashboardConfig> {
  const url = new URL(CONFIG_PATH, page.href).href;
  let raw: unknown = null;
  try {
    const response = await fetchFn(url, {
      cache: 'no-store',
      signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS),
    });
    if (response.ok) raw = await response.json();
    else warn(`${url} answered ${response.status}; using the page's origin for the API`);
  } catch (error) {
    warn(`could not read ${url} (${String(error)}); using the page's origin for the API`);
  }
  return resolveConfig(raw, page, warn);
}
