"""``cryptopulse api``: run the API server on uvicorn, as its container does."""

from __future__ import annotations

import uvicorn

from cryptopulse_api.app import create_app
from cryptopulse_api.settings import ApiSettings
from cryptopulse_common.logs import configure


def main(settings: ApiSettings | None = None) -> int:
    settings = settings or ApiSettings()
    configure("api", settings.log_level, settings.log_format)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
