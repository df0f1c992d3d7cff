"""The API server: /ingest from the stream job, WebSocket fan-out to dashboards."""
