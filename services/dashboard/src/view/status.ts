/**
 * The connection indicator and the age of the data.
 *
 * `[data-testid="connection-status"]`: text exactly `connecting`, `live`,
 * `reconnecting (attempt N)` or `stale`; `data-status` holds the kind (for colour).
 * `[data-testid="data-age"]`: `updated 4 s ago`, with `data-stale="true"` once the newest data is
 * older than two windows (it then stands out); empty before any data.
 */

import { type ConnectionStatus, statusText } from '../connection';
import { formatAge } from '../staleness';

export const STATUS_TEST_ID = 'connection-status';
export const DATA_AGE_TEST_ID = 'data-age';

export class StatusIndicator {
  readonly element: HTMLElement;

  constructor(doc: Document) {
    this.element = doc.createElement('span');
    this.element.className = 'status';
    this.element.dataset.testid = STATUS_TEST_ID;
    this.element.setAttribute('role', 'status');
  }

  render(status: ConnectionStatus): void {
    const text = statusText(status);
    if (this.element.textContent !== text) this.element.textContent = text;
    this.element.dataset.status = status.kind;
  }
}

export class DataAge {
  readonly element: HTMLElement;

  constructor(doc: Document) {
    this.element = doc.createElement('span');
    this.element.className = 'data-age';
    this.element.dataset.testid = DATA_AGE_TEST_ID;
  }

  /** `ageMs` null: no data yet. */
  render(ageMs: number | null, stale: boolean): void {
    const text = ageMs === null ? '' : `updated ${formatAge(ageMs)} ago`;
    if (this.element.textContent !== text) this.element.textContent = text;
    if (stale) this.element.dataset.stale = 'true';
    else delete this.element.dataset.stale;
  }
}
