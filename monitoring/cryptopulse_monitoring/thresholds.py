"""The numbers the alerts fire at: the rules use them, and the dashboards draw them as thresholds.

Each is a judgement with its reason next to it; change it here and both follow.
"""

from __future__ import annotations

from typing import Final

# The producer is silent when no tick was acknowledged for this many poll intervals, and for
# at least PRODUCER_SILENT_MIN_SECONDS: the last-publish gauge Prometheus holds is up to one
# scrape interval old (15-30 s with the operator's defaults; it was 2-4 s old all the time in the
# test's 2 s scrapes), so with 1 s polls "3 polls" alone would page on every healthy producer.
PRODUCER_SILENT_POLLS: Final = 3
PRODUCER_SILENT_MIN_SECONDS: Final = 60.0
# Share of requests to CoinGecko answered 429 (over 5 minutes): a free or demo key polled every
# 30 s sees none; a quarter rate-limited for 15 minutes means the plan or interval is wrong.
RATE_LIMITED_RATIO: Final = 0.25
# The stream job has stalled when no query reported progress (a batch, or an idle trigger, at
# least every spark.sql.streaming.noDataProgressEventInterval = 10 s) for this long; above the
# driver's STREAM_HEALTH_STALL_SECONDS (120 s), after which its liveness probe restarts it.
STREAM_STALLED_SECONDS: Final = 300.0
# Share of the topic's messages dead-lettered, or of the ticks dropped behind the watermark
# (over 5 minutes). The simulator and CoinGecko produce neither; 5 % is a broken producer.
MALFORMED_RATIO: Final = 0.05
LATE_RATIO: Final = 0.05
# Share of POST /ingest answered with an error (anything but accepted or duplicate).
INGEST_ERROR_RATIO: Final = 0.05
# How long the stream job's sink may wait for an unavailable /ingest before someone is paged: it
# retries with backoff and holds the batch (nothing is lost), but no update reaches any client.
# A rolling restart of the API takes well under a minute.
SINK_WAITING_SECONDS: Final = 120.0
# Broadcast latency p99 over 5 minutes. The benchmark's target for 10,000 clients is 250 ms
# (docs/benchmarks/api.md); four times that, sustained, is a degraded service.
BROADCAST_P99_SECONDS: Final = 1.0
BROADCAST_P99_WARNING_SECONDS: Final = 0.25
# Slow clients dropped per minute: one now and then is a client on a bad network; ten a minute
# for five minutes is the server or its network failing everyone.
SLOW_CLIENT_DROPS_PER_MINUTE: Final = 10.0
# Watermark lag the dashboards colour: the window (30 s) plus the watermark delay (60 s) is what
# a healthy job shows; twice that is worth a look.
WATERMARK_LAG_WARNING_SECONDS: Final = 180.0
# Kafka lag the dashboards colour: a few seconds of 10 coins at 1 poll/s is tens of records.
KAFKA_LAG_WARNING_RECORDS: Final = 1_000.0
