"""The stream job: Spark Structured Streaming from the ticks topic to the API's /ingest."""
