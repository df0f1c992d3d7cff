"""``cryptopulse api`` and ``python -m cryptopulse_api.main``: run the API server on uvicorn, as
its container does."""

from __future__ import annotations

import gc

from cryptopulse_api.app import create_app
from cryptopulse_api.server import DrainingServer, quiet_connection_logs, server_config
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.logs import configure


def main(settings: ApiSettings | None = None) -> int:
    settings = settings or ApiSettings()
    configure("api", settings.log_level, settings.log_format)
    quiet_connection_logs(settings.log_level)
    app = create_app(settings)
    # What the imports and the app built lives as long as the process: out of the collector's
    # way, so a full collection scans the connections' objects only.
    gc.collect()
    gc.freeze()
    server = DrainingServer(
        server_config(app, settings), app.state.lifecycle, settings.api_drain_delay_seconds
    )
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
