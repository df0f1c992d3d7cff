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

/** One coin over one event-time window. */
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
  readonly change_24h: number;
  readonly volume_24h: number | null;
  readonly market_cap: number | null;
  readonly volatility: VolatilityLabel;
  readonly trend: TrendLabel;
  readonly window_start: string;
  readonly window_end: string;
  readonly timestamp: string;
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

const NUMBER_FIELDS = ['price', 'open', 'high', 'low', 'close', 'mean_price', 'change_24h'] as const;
const NULLABLE_NUMBER_FIELDS = ['volume_24h', 'market_cap'] as const;
const TIMESTAMP_FIELDS = ['window_start', 'window_end', 'timestamp'] as const;

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
  for (const field of NUMBER_FIELDS) {
    if (!isFiniteNumber(value[field])) return wrong(field, 'a number');
  }
  if (!Number.isInteger(value.samples)) return wrong('samples', 'an integer');
  for (const field of NULLABLE_NUMBER_FIELDS) {
    if (value[field] !== null && !isFiniteNumber(value[field])) return wrong(field, 'a number or null');
  }
  if (!includes(VOLATILITY_LABELS, value.volatility)) {
    return wrong('volatility', `one of ${VOLATILITY_LABELS.join(', ')}`);
  }
  if (!includes(TREND_LABELS, value.trend)) return wrong('trend', `one of ${TREND_LABELS.join(', ')}`);
  for (const field of TIMESTAMP_FIELDS) {
    const text = value[field];
    if (typeof text !== 'string' || Number.isNaN(timestampMillis(text))) {
      return wrong(field, 'an ISO 8601 timestamp');
    }
  }
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
