"""``cryptopulse api`` and ``python -m cryptopulse_api.main``: run the API server on uvicorn, as
its container does."""

from __future__ import annotations

import gc
import logging

from cryptopulse_api.app import create_app
from cryptopulse_api.limits import connection_cap, raise_open_file_limit
from cryptopulse_api.server import DrainingServer, quiet_connection_logs, server_config
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.logs import configure, event

log = logging.getLogger("cryptopulse.api")


def fit_open_files(settings: ApiSettings) -> ApiSettings:
    """Raise the open-file soft limit to the hard one and cap ``api_max_connections`` to what
    it allows, logging both (``SystemExit`` with the reason when it allows no client)."""
    limit = raise_open_file_limit()
    try:
        cap = connection_cap(settings.api_max_connections, limit.soft, settings.api_fd_reserve)
    except ValueError as error:
        raise SystemExit(f"api: {error}") from error
    event(
        log,
        f"open files: soft limit {limit.soft_before} -> {limit.soft} (hard {limit.hard})"
        + (f"; could not raise it: {limit.error}" if limit.error else ""),
        logging.WARNING if limit.error else logging.INFO,
    )
    if cap < settings.api_max_connections:
        event(
            log,
            f"API_MAX_CONNECTIONS {settings.api_max_connections} capped to {cap}: "
            f"{limit.soft} open files less API_FD_RESERVE {settings.api_fd_reserve}",
            logging.WARNING,
        )
    else:
        event(log, f"API_MAX_CONNECTIONS {cap} (open files {limit.soft})")
    return settings.model_copy(update={"api_max_connections": cap})


def main(settings: ApiSettings | None = None) -> int:
    settings = settings or ApiSettings()
    configure("api", settings.log_level, settings.log_format)
    quiet_connection_logs(settings.log_level)
    settings = fit_open_files(settings)
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
