/** Browser entry point: read the runtime configuration, then start the dashboard. */

import './styles.css';
import { startDashboard } from './app';
import { loadConfig } from './config';
import { webSocketTransport } from './connection';
import { lightweightCharts } from './view/lightweight';

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) throw new Error('index.html has no element with id "app" to render into');
  const config = await loadConfig(window.location);
  startDashboard(root, config, { transport: webSocketTransport(), charts: lightweightCharts });
}

void main();
