/**
 * The wire contract of the API server's WebSocket, as the dashboard reads it.
 *
 * Mirrors `Aggregate` and the message-type constants of `cryptopulse_common.contract`; every
 * field and label is spelled here once and imported by the rest of the dashboard.
 */

export const SNAPSHOT_MESSAGE = 'snapshot';
export const MARKET_UPDATE_MESSAGE = 'market_update';
/** The update type of the original design; the API server can be configured to send it. */
export const LEGACY_UPDATE_MESSAGE = 'aqi_update';

/** Volatility labels from calmest to wildest (the order the table sorts them in). */
export const VOLATILITY_LABELS = ['Stable', 'Moving', 'Volatile', 'High Volatility', 'Extreme'] as const;
export type VolatilityLabel = (typeof VOLATILITY_LABELS)[number];

/** Trend labels from worst to best (the order the table sorts them in). */
export const TREND_LABELS = ['Crashing', 'Falling', 'Stable', 'Rising', 'Surging'] as const;
export type TrendLabel = (typeof TREND_LABELS)[number];

/**
 * Bounds of the numbers on the wire, as `cryptopulse_common.contract` sets them (MAX_MAGNITUDE,
 * MIN_CHANGE_PERCENT); `tests/common/test_dashboard_contract.py` keeps the two equal.
 */
export const MAX_MAGNITUDE = 1e18;
export const MIN_CHANGE_PERCENT = -100;

/**
 * One coin over one event-time window. `change_24h` is null when the source does not know it,
 * and `volatility` and `trend` are null with it: unknown is never shown as known.
 */
export interface Aggregate {
  readonly coin: string;
  readonly coin_id: string;
  readonly name: string;
  readonly price: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly mean_price: number;
  readonly samples: number;
  readonly change_24h: number | null;
  readonly volume_24h: number | null;
  readonly market_cap: number | null;
  readonly volatility: VolatilityLabel | null;
  readonly trend: TrendLabel | null;
  readonly window_start: string;
  readonly window_end: string;
  /** Event time (the producer's observation) of the newest tick in the window. */
  readonly timestamp: string;
  /** The source's newest own update time in the window; it may lag `timestamp`. */
  readonly last_updated: string | null;
  /** False once the stream job's watermark has passed `window_end`: the record is final. */
  readonly window_open: boolean;
}

/** A message from `/ws` (or `GET /api/snapshot`) after validation. */
export type ServerMessage =
  | { readonly kind: 'snapshot'; readonly data: readonly Aggregate[] }
  | { readonly kind: 'update'; readonly data: readonly Aggregate[] };

/** What became of one raw message: the message, plus a reason for every part that was dropped. */
export interface ParseResult {
  readonly message: ServerMessage | null;
  readonly problems: readonly string[];
}

const PRICE_FIELDS = ['price', 'open', 'high', 'low', 'close', 'mean_price'] as const;
const AMOUNT_FIELDS = ['volume_24h', 'market_cap'] as const;
const TIMESTAMP_FIELDS = ['window_start', 'window_end', 'timestamp'] as const;
/** open, close and price lie within [low, high]; the mean may differ from them in its last bits. */
const WITHIN_RANGE_FIELDS = ['open', 'close', 'price', 'mean_price'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function includes<T extends string>(labels: readonly T[], value: unknown): value is T {
  return (labels as readonly unknown[]).includes(value);
}

/** Epoch milliseconds of an ISO 8601 timestamp, or NaN when it is not one. */
export function timestampMillis(text: string): number {
  return Date.parse(text);
}

/**
 * Check one record against the contract. Returns the record, or a sentence saying which field was
 * wrong (so a console warning tells the API owner what to fix).
 */
export function validateAggregate(value: unknown): Aggregate | string {
  if (!isRecord(value)) return 'record is not a JSON object';
  const id = typeof value.coin_id === 'string' ? value.coin_id : '?';
  const wrong = (field: string, expected: string): string =>
    `record ${id}: field ${field} should be ${expected}, got ${JSON.stringify(value[field])}`;
  if (!isNonEmptyString(value.coin)) return wrong('coin', 'a non-empty string');
  if (!isNonEmptyString(value.coin_id)) return wrong('coin_id', 'a non-empty string');
  if (typeof value.name !== 'string') return wrong('name', 'a string');
  for (const field of PRICE_FIELDS) {
    const price = value[field];
    if (!isFiniteNumber(price) || price <= 0 || price > MAX_MAGNITUDE) {
      return wrong(field, `a number in (0, ${MAX_MAGNITUDE}]`);
    }
  }
  if (!Number.isInteger(value.samples) || (value.samples as number) < 1) return wrong('samples', 'an integer >= 1');
  const change = value.change_24h;
  if (change !== null && (!isFiniteNumber(change) || change < MIN_CHANGE_PERCENT || change > MAX_MAGNITUDE)) {
    return wrong('change_24h', `a number in [${MIN_CHANGE_PERCENT}, ${MAX_MAGNITUDE}] or null`);
  }
  for (const field of AMOUNT_FIELDS) {
    const amount = value[field];
    if (amount !== null && (!isFiniteNumber(amount) || amount < 0 || amount > MAX_MAGNITUDE)) {
      return wrong(field, `a number in [0, ${MAX_MAGNITUDE}] or null`);
    }
  }
  if (!(value.volatility === null ? change === null : includes(VOLATILITY_LABELS, value.volatility) && change !== null)) {
    return wrong('volatility', `one of ${VOLATILITY_LABELS.join(', ')} (null exactly when change_24h is null)`);
  }
  if (!(value.trend === null ? change === null : includes(TREND_LABELS, value.trend) && change !== null)) {
    return wrong('trend', `one of ${TREND_LABELS.join(', ')} (null exactly when change_24h is null)`);
  }
  for (const field of TIMESTAMP_FIELDS) {
    const text = value[field];
    if (typeof text !== 'string' || Number.isNaN(timestampMillis(text))) {
      return wrong(field, 'an ISO 8601 timestamp');
    }
  }
  const sourceTime = value.last_updated;
  if (sourceTime !== null && (typeof sourceTime !== 'string' || Number.isNaN(timestampMillis(sourceTime)))) {
    return wrong('last_updated', 'an ISO 8601 timestamp or null');
  }
  if (typeof value.window_open !== 'boolean') return wrong('window_open', 'true or false');
  const low = value.low as number;
  const high = value.high as number;
  for (const field of WITHIN_RANGE_FIELDS) {
    const slack = field === 'mean_price' ? 1e-9 * high : 0;
    const price = value[field] as number;
    if (price < low - slack || price > high + slack) return wrong(field, `within [low ${low}, high ${high}]`);
  }
  const start = timestampMillis(value.window_start as string);
  const end = timestampMillis(value.window_end as string);
  if (start >= end) return wrong('window_end', 'after window_start');
  const moment = timestampMillis(value.timestamp as string);
  if (moment < start || moment >= end) return wrong('timestamp', 'within [window_start, window_end)');
  return value as unknown as Aggregate;
}

/**
 * Parse one WebSocket text frame. Records that break the contract are dropped one by one (the rest
 * of the batch still applies); a frame that is not a known message yields `message: null`.
 */
export function parseServerMessage(text: string): ParseResult {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return { message: null, problems: [`message is not JSON: ${text.slice(0, 80)}`] };
  }
  if (!isRecord(payload)) return { message: null, problems: ['message is not a JSON object'] };
  const type = payload.type;
  let kind: ServerMessage['kind'];
  if (type === SNAPSHOT_MESSAGE) {
    kind = 'snapshot';
  } else if (type === MARKET_UPDATE_MESSAGE || type === LEGACY_UPDATE_MESSAGE) {
    kind = 'update';
  } else {
    return { message: null, problems: [`ignoring message of unknown type ${JSON.stringify(type)}`] };
  }
  if (!Array.isArray(payload.data)) {
    return { message: null, problems: [`${String(type)} message has no data list`] };
  }
  const data: Aggregate[] = [];
  const problems: string[] = [];
  for (const item of payload.data) {
    const checked = validateAggregate(item);
    if (typeof checked === 'string') problems.push(`dropped ${checked}`);
    else data.push(checked);
  }
  return { message: { kind, data }, problems };
}
