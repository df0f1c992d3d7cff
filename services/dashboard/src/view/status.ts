/**
 * The connection indicator: `data-testid="connection-status"`, whose text is exactly
 * `connecting`, `live`, `reconnecting (attempt N)` or `stale`, and whose `data-status` is the kind
 * (for colour).
 */

import { type ConnectionStatus, statusText } from '../connection';

export const STATUS_TEST_ID = 'connection-status';

export class StatusIndicator {
  readonly element: HTMLElement;

  constructor(doc: Document) {
    this.element = doc.createElement('span');
    this.element.className = 'status';
    this.element.dataset.testid = STATUS_TEST_ID;
    this.element.setAttribute('role', 'status');
  }

  render(status: ConnectionStatus): void {
    this.element.textContent = statusText(status);
    this.element.dataset.status = status.kind;
  }
}
