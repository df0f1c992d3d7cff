"""Every panel and every rule, evaluated by a real Prometheus scraping the real local pipeline.

The pipeline runs stage by stage (broker, producer polling a local CoinGecko, Spark job with its
UI's PrometheusServlet, API) with a WebSocket client reading the updates. Debian's Prometheus
scrapes the four endpoints every 2 s, each labelled as the Prometheus Operator labels a pod
(``namespace``), and evaluates the chart's rules scoped to that namespace. For a few minutes the
test makes the faults the alerts watch for happen (CoinGecko 429s and bad rows, malformed and
late messages on the topic, refused /ingest requests, a refused origin, WebSocket clients that
stop reading), then evaluates, through Prometheus's HTTP API, every query of every dashboard
(``$namespace``, ``$instance`` and ``$__rate_interval`` as Grafana would fill them in) and every
rule: none errors, every query returns series, every series has the labels its legend names,
and the faults show on the panels that draw them.
"""

from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from cryptopulse_common.contract import MARKET_UPDATE_MESSAGE, TICKS_TOPIC, Tick, format_timestamp
from cryptopulse_local.kafka_broker import free_port
from cryptopulse_monitoring.promql import INSTANCE, NAMESPACE, RATE_INTERVAL, substitute
from cryptopulse_monitoring.rules import alerts, recording_rules
from tests.api.clients import stalled_client
from tests.api.conftest import aggregate
from tests.monitoring.dashboards import Query, dashboards, legend_name, queries, variables
from tests.monitoring.promtool import TEST_NAMESPACE, scoped_rules
from tests.support.coingecko_fake import FakeCoinGecko, Reply, running_coingecko
from tests.support.prometheus import Prometheus, PromQLError, Target, running_prometheus
from tests.support.stages import Stages, running_stages

pytestmark = pytest.mark.e2e

SCRAPE_SECONDS = 2.0
# Grafana's $__rate_interval: four scrape intervals (its minimum).
RATE_WINDOW = f"{4 * SCRAPE_SECONDS:g}s"
GRAFANA = {NAMESPACE: TEST_NAMESPACE, INSTANCE: ".+", RATE_INTERVAL: RATE_WINDOW}
SOAK_SECONDS = 150.0
FAULT_EVERY_SECONDS = 10.0
FIRST_UPDATE_TIMEOUT_SECONDS = 300.0
TOKEN = "e2e-ingest-token"
ALLOWED_ORIGIN = "http://cryptopulse.example"
# Series this pipeline cannot have: kube-state-metrics runs only in a cluster.
CLUSTER_ONLY = ("kube_pod_status_ready", "kube_pod_status_phase")
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


class Reader:
    """A WebSocket client that reads every message, on its own thread."""

    def __init__(self, url: str) -> None:
        self.updates = 0
        self.first_update = threading.Event()
        self._ws: ClientConnection | None = None
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        with connect(url, open_timeout=10, max_size=None) as ws:
            self._ws = ws
            try:
                while True:
                    if json.loads(ws.recv())["type"] == MARKET_UPDATE_MESSAGE:
                        self.updates += 1
                        self.first_update.set()
            except ConnectionClosed:
                return

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
        self._thread.join(10)


@dataclass
class Faults:
    """The faults the alerts watch for, made to happen against the running pipeline."""

    stages: Stages
    coingecko: FakeCoinGecko
    kafka: KafkaProducer
    stalled: list[socket.socket] = field(default_factory=list)
    rounds: int = 0

    @property
    def ws_url(self) -> str:
        return self.stages.api_url.replace("http://", "ws://") + "/ws"

    def inject(self) -> None:
        self.rounds += 1
        # CoinGecko: a 429 with Retry-After, and rows that break the documented shape.
        self.coingecko.script(Reply.rate_limited(retry_after="1"))
        if self.rounds % 2:
            self.coingecko.script(Reply.spoiled())
        # The ticks topic: messages that are no ticks, and a tick ten minutes late.
        for raw in (b"not json at all", b'{"schema": 99, "id": "bitcoin"}', b'{"schema": 1}'):
            self.kafka.send(TICKS_TOPIC, raw, key=b"bitcoin")
        old = format_timestamp(datetime.now(UTC) - timedelta(minutes=10))
        late = Tick(
            id="bitcoin",
            symbol="btc",
            name="Bitcoin",
            current_price=97_000.0,
            last_updated=old,
            observed_at=old,
        )
        self.kafka.send(TICKS_TOPIC, json.dumps(late.wire()).encode(), key=b"bitcoin")
        self.kafka.flush(30)
        # /ingest: no token (401), not JSON (422), too large (413).
        url = f"{self.stages.api_url}/ingest"
        auth = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(timeout=30) as client:
            assert client.post(url, json={"data": []}).status_code == 401
            assert client.post(url, content=b"{not json", headers=auth).status_code == 422
            too_large = b'{"data": [' + b" " * (2 << 20) + b"]}"
            assert client.post(url, content=too_large, headers=auth).status_code == 413
        # WebSocket: an origin the API does not allow (403), and a client that stops reading.
        with pytest.raises(InvalidStatus):
            connect(self.ws_url, origin=Origin("http://elsewhere.example"), open_timeout=10)
        if self.rounds % 3 == 1:
            self.stalled.append(stalled_client(self.ws_url))
            self.overrun_stalled_clients()

    def overrun_stalled_clients(self) -> None:
        """Updates that a client which stopped reading cannot take: one larger than what its
        connection buffers (the kernel's and asyncio's 64 kB), then enough to fill its queue
        (conflated) and to stay behind longer than API_WS_MAX_LAG_SECONDS (dropped). The
        stream job's own updates would do it too, at whatever pace the machine allows."""
        url = f"{self.stages.api_url}/ingest"
        auth = {"authorization": f"Bearer {TOKEN}"}

        def batch(records: int) -> dict[str, Any]:
            # A window of now: the API forgets on arrival a coin whose newest window is
            # API_COIN_IDLE_SECONDS behind the market's newest (the stream job's, of now).
            end = datetime.now(UTC).replace(microsecond=0)
            window = {
                "window_start": format_timestamp(end - timedelta(seconds=30)),
                "window_end": format_timestamp(end),
                "timestamp": format_timestamp(end - timedelta(seconds=1)),
            }
            return {"data": [aggregate(f"e2e-load-{i}", 1.0 + i, **window) for i in range(records)]}

        with httpx.Client(timeout=30, headers=auth) as client:
            # Its writer holds the second update waiting for the socket; two more fill its
            # queue; the fourth is conflated with them (lagging from then on); 1.5 s later
            # the queue is full again and the client has lagged too long.
            steps = [(400, 0.2), (10, 0.2), (10, 0.2), (10, 0.2), (10, 1.5), (10, 0.2), (10, 0)]
            for records, pause in steps:
                assert client.post(url, json=batch(records)).status_code == 200
                time.sleep(pause)

    def close(self) -> None:
        for sock in self.stalled:
            sock.close()
        self.kafka.close(timeout=10)


@dataclass
class Observed:
    prometheus: Prometheus
    start: float
    end: float
    updates: int


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    state = tmp_path_factory.mktemp("state")
    fake = FakeCoinGecko()
    fake.script(Reply.rate_limited(retry_after="1"), Reply.spoiled())
    with (
        running_coingecko(fake) as coingecko_url,
        running_stages(
            state,
            PRODUCER_SOURCE="coingecko",
            COINGECKO_BASE_URL=coingecko_url,
            API_INGEST_TOKEN=TOKEN,
            STREAM_INGEST_TOKEN=TOKEN,
            API_WS_ALLOWED_ORIGINS=ALLOWED_ORIGIN,
            # A client that stops reading fills 4 kB of socket buffer, then a queue of two,
            # then is conflated and dropped one second later (queue_overflow).
            API_WS_SEND_BUFFER_BYTES="4096",
            API_WS_QUEUE_SIZE="2",
            API_WS_MAX_LAG_SECONDS="1",
            API_WS_SEND_TIMEOUT_SECONDS="30",
            STREAM_SPARK_UI="true",
            STREAM_SPARK_UI_PORT=str(free_port()),
            STREAM_LAG_INTERVAL_SECONDS="2",
        ) as stages,
    ):
        env = stages.env
        pod = {"namespace": TEST_NAMESPACE}
        targets = [
            Target("cryptopulse-api", stages.api_port, {**pod, "pod": "cryptopulse-api-0"}),
            Target(
                "cryptopulse-producer",
                int(env["PRODUCER_METRICS_PORT"]),
                {**pod, "pod": "cryptopulse-producer-0"},
            ),
            Target(
                "cryptopulse-stream",
                int(env["STREAM_METRICS_PORT"]),
                {**pod, "pod": "cryptopulse-stream-driver"},
            ),
            Target(
                "cryptopulse-stream-spark",
                int(env["STREAM_SPARK_UI_PORT"]),
                {**pod, "pod": "cryptopulse-stream-driver"},
                path="/metrics/prometheus",
            ),
        ]
        with running_prometheus(
            state / "prometheus", targets, scoped_rules(TEST_NAMESPACE), SCRAPE_SECONDS
        ) as prometheus:
            reader = Reader(stages.api_url.replace("http://", "ws://") + "/ws")
            deadline = time.monotonic() + FIRST_UPDATE_TIMEOUT_SECONDS
            while not reader.first_update.wait(5):
                stages.assert_running("api", "stream", "producer")
                assert time.monotonic() < deadline, "no update reached the client:\n" + (
                    stages.logs()
                )
            kafka = KafkaProducer(bootstrap_servers=stages.kafka.bootstrap_servers)
            faults = Faults(stages, fake, kafka)
            start = time.time()
            try:
                soak_until = time.monotonic() + SOAK_SECONDS
                while time.monotonic() < soak_until:
                    faults.inject()
                    time.sleep(FAULT_EVERY_SECONDS)
                stages.assert_running("api", "stream", "producer")
                # Two more scrapes and rule evaluations of what happened last.
                time.sleep(2 * SCRAPE_SECONDS + 1)
                yield Observed(prometheus, start, time.time(), reader.updates)
            finally:
                faults.close()
                reader.close()


def evaluate(prometheus: Prometheus, observed: Observed, query: Query) -> list[dict[str, Any]]:
    expr = substitute(query.expr, GRAFANA)
    try:
        return prometheus.query_range(expr, observed.start, observed.end, SCRAPE_SECONDS * 2)
    except PromQLError as error:
        pytest.fail(f"{query.dashboard} / {query.panel} ({query.ref_id}): {error}\n{expr}")


def test_prometheus_scrapes_every_stage_and_the_spark_servlet(observed: Observed) -> None:
    targets = observed.prometheus.targets()
    assert {target["labels"]["job"] for target in targets} == {
        "cryptopulse-api",
        "cryptopulse-producer",
        "cryptopulse-stream",
        "cryptopulse-stream-spark",
    }
    for target in targets:
        assert target["health"] == "up", (target["scrapeUrl"], target["lastError"])
    assert observed.updates > 0


def test_every_rule_evaluates_and_every_recording_has_series(observed: Observed) -> None:
    prometheus = observed.prometheus
    loaded = prometheus.rules()
    assert {rule["name"] for rule in loaded if rule["type"] == "recording"} == {
        rule.record for rule in recording_rules()
    }
    assert {rule["name"] for rule in loaded if rule["type"] == "alerting"} == {
        alert.alert for alert in alerts()
    }
    for rule in loaded:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        try:
            prometheus.query(rule["query"])
        except PromQLError as error:
            pytest.fail(f"{rule['name']}: {error}\n{rule['query']}")
    for record in {rule.record for rule in recording_rules()}:
        assert prometheus.query(record), f"{record} recorded nothing"


def test_every_selector_of_every_panel_and_rule_matches_real_series(observed: Observed) -> None:
    """A misspelled metric or label value evaluates without error, to nothing: catch it here."""
    exprs = [substitute(query.expr, GRAFANA) for query in queries()]
    exprs += [rule["query"] for rule in observed.prometheus.rules()]
    selectors = {
        f"{metric}{{{matchers}}}"
        for expr in exprs
        for metric, matchers in SELECTOR.findall(expr)
        if metric not in CLUSTER_ONLY
    }
    assert len(selectors) > 40
    empty = sorted(sel for sel in selectors if not observed.prometheus.series(sel))
    assert not empty, f"selectors that match nothing: {empty}"


@pytest.mark.parametrize("query", queries(), ids=lambda q: f"{q.dashboard}: {q.panel} {q.ref_id}")
def test_every_query_returns_series_named_by_their_legend(observed: Observed, query: Query) -> None:
    series = evaluate(observed.prometheus, observed, query)
    assert series, f"{query.panel} ({query.ref_id}) drew nothing"
    needed = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", query.legend))
    names = []
    for one in series:
        labels = one["metric"]
        assert needed <= set(labels), f"{query.legend!r} needs {needed}, series has {labels}"
        names.append(legend_name(query.legend, labels))
    assert all(name.strip() for name in names)
    assert len(names) == len(set(names)), f"series drawn with the same name: {names}"


def test_the_panels_of_one_dashboard_draw_distinct_series_names(observed: Observed) -> None:
    """Across the targets of a panel too: two lines never share a name."""
    by_panel: dict[tuple[str, str], list[str]] = {}
    for query in queries():
        for one in evaluate(observed.prometheus, observed, query):
            name = legend_name(query.legend, one["metric"])
            by_panel.setdefault((query.dashboard, query.panel), []).append(name)
    for panel, names in by_panel.items():
        assert len(names) == len(set(names)), (panel, names)


def peak(observed: Observed, dashboard: str, panel: str, legend: str | None = None) -> float:
    """The highest value a panel drew over the run, on the series named ``legend`` (or any)."""
    best = -math.inf
    for query in queries():
        if (query.dashboard, query.panel) != (dashboard, panel):
            continue
        for one in evaluate(observed.prometheus, observed, query):
            if legend is not None and legend_name(query.legend, one["metric"]) != legend:
                continue
            values = [float(value) for _, value in one["values"]]
            best = max([best, *[v for v in values if not math.isnan(v)]])
    assert best > -math.inf, f"{dashboard} / {panel}: no series named {legend!r}"
    return best


OVERVIEW = "cryptopulse-pipeline.json"
API = "cryptopulse-api.json"
PRODUCER = "cryptopulse-producer.json"


@pytest.mark.parametrize(
    ("dashboard", "panel", "legend"),
    [
        (OVERVIEW, "Ticks fetched and published", "fetched"),
        (OVERVIEW, "Ticks fetched and published", "published"),
        (OVERVIEW, "Ticks fetched and published", "rejected rows"),
        (OVERVIEW, "CoinGecko rate limits and retry waits", "requests answered 429"),
        (OVERVIEW, "CoinGecko rate limits and retry waits", "time waiting to retry"),
        (OVERVIEW, "Stream job: input and processed rows per second", "window_aggregates input"),
        (OVERVIEW, "Stream job: batch duration against the trigger", "window_aggregates trigger"),
        (OVERVIEW, "Stream job: watermark lag", "watermark lag"),
        (
            OVERVIEW,
            "Stream job: late and malformed records by reason",
            "late (behind the watermark)",
        ),
        (
            OVERVIEW,
            "Stream job: late and malformed records by reason",
            "malformed: not_json",
        ),
        (OVERVIEW, "API: ingest rate", "records accepted"),
        (OVERVIEW, "API: ingest errors by status", "unauthorized"),
        (OVERVIEW, "API: ingest errors by status", "invalid"),
        (OVERVIEW, "API: ingest errors by status", "too_large"),
        (OVERVIEW, "API: WebSocket connections", None),
        (OVERVIEW, "API: broadcast latency p50 / p95 / p99", "p99"),
        (OVERVIEW, "API: slow clients dropped per minute by reason", "queue_overflow"),
        (OVERVIEW, "API: messages conflated", "conflated"),
        (OVERVIEW, "Signal: error ratios", "refused /ingest requests"),
        (API, "Connections refused per minute by reason", "origin"),
        (PRODUCER, "Rows rejected per minute by reason", "missing_field"),
        (PRODUCER, "Rows rejected per minute by reason", "wrong_type"),
        (API, "Records refused per minute by reason", "not_json"),
    ],
)
def test_the_faults_and_the_flow_show_on_their_panels(
    observed: Observed, dashboard: str, panel: str, legend: str | None
) -> None:
    assert peak(observed, dashboard, panel, legend) > 0


def test_the_dashboard_variables_list_the_release(observed: Observed) -> None:
    prometheus = observed.prometheus
    for name, dashboard in dashboards().items():
        found = variables(dashboard)
        match = re.fullmatch(r"label_values\((.+), namespace\)", found["namespace"]["query"])
        assert match, name
        assert TEST_NAMESPACE in prometheus.label_values("namespace", match[1]), name
        match = re.fullmatch(r"label_values\((.+), instance\)", found["instance"]["query"])
        assert match, name
        selector = substitute(match[1], GRAFANA)
        assert prometheus.label_values("instance", selector), (name, selector)


def test_a_healthy_pipeline_pages_nobody(observed: Observed) -> None:
    firing = observed.prometheus.query('ALERTS{alertstate="firing", severity="critical"}')
    assert not firing, [alert["metric"] for alert in firing]


def test_the_prometheus_data_is_the_tests_own(observed: Observed) -> None:
    """Nothing else reaches this Prometheus: every series is of the test's namespace."""
    namespaces = observed.prometheus.label_values("namespace", '{__name__=~".+"}')
    assert namespaces == [TEST_NAMESPACE]
