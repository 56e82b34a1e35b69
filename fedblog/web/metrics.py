"""`GET /metrics` in Prometheus' text format (the official prometheus-client), behind
`Authorization: Bearer FEDBLOG_METRICS_TOKEN`; 404 when no token is set.

Each app has its own CollectorRegistry. The queue figures are read from the database on a
scrape, at most once per CACHE_SECONDS (several Prometheus servers, or a dashboard, cost one
query set); they describe the whole installation, whichever process answers. The inbox
requests by status are this process's own, counted by the inbox route (`counted`)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fedblog import __version__
from fedblog.blog.operations import Operations, Snapshot
from fedblog.web.responses import json_error

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
# Deliveries by outcome count the whole table (about 0.2 s per million rows): less often.
TOTALS_SECONDS = 60.0


class Metrics:
    """One app's registry, its inbox counts and the last snapshot of the queues."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.inbox_statuses: Counter[int] = Counter()
        self.snapshot: Snapshot | None = None
        self.database_up = False
        self.workers_up: bool | None = None
        self._taken_at = float("-inf")
        self._totals_at = float("-inf")
        self._lock = asyncio.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_FedblogCollector(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    async def refresh(self, operations: Operations) -> None:
        async with self._lock:
            if time.monotonic() - self._taken_at < CACHE_SECONDS:
                return
            fresh_totals = time.monotonic() - self._totals_at >= TOTALS_SECONDS
            totals = None if fresh_totals or self.snapshot is None else self.snapshot.deliveries.by_state
            try:
                async with asyncio.timeout(CACHE_SECONDS):
                    self.snapshot = await operations.snapshot(totals=totals)
                self.database_up = True
                if totals is None:
                    self._totals_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001 -- a scrape still answers, saying so
                log.warning("metrics: the database did not answer: %s: %s", type(exc).__name__, exc)
                self.database_up = False
            self._taken_at = time.monotonic()

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """The text format Prometheus asks for in `accept` (OpenMetrics or text 0.0.4/1.0.0)."""
        encoder, content_type = choose_encoder(accept)
        return bytes(encoder(self.registry)), content_type


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels) if labels else None)
    family.add_metric(list(labels.values()) if labels else [], value)
    return family


class _FedblogCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        info = GaugeMetricFamily("fedblog_info", "fedblog's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        requests = CounterMetricFamily("fedblog_inbox_requests", "inbox POSTs answered by this "
                                       "process since it started, by HTTP status", labels=["status"])
        for status, count in sorted(m.inbox_statuses.items()):
            requests.add_metric([str(status)], count)
        yield requests
        yield _gauge("fedblog_database_up", "whether the last scrape could read the database",
                     1 if m.database_up else 0)
        if m.workers_up is not None:
            yield _gauge("fedblog_workers_up", "whether this process's queue workers are running",
                         1 if m.workers_up else 0)
        snap = m.snapshot
        if snap is None:
            return
        inbox = GaugeMetricFamily("fedblog_inbox_queue_depth", "inbox activities not processed "
                                  "yet: received (to process) and waiting (for a parent)",
                                  labels=["state"])
        inbox.add_metric(["received"], snap.inbox.received)
        inbox.add_metric(["waiting"], snap.inbox.waiting)
        yield inbox
        yield _gauge("fedblog_inbox_queue_retrying", "received inbox activities that failed once "
                     "and wait for another try", snap.inbox.retrying)
        yield _gauge("fedblog_inbox_queue_oldest_seconds", "age of the oldest inbox activity not "
                     "processed yet (the inbox's processing lag)", snap.inbox.oldest_age)
        d = snap.deliveries
        yield _gauge("fedblog_delivery_queue_depth", "deliveries queued", d.queued)
        yield _gauge("fedblog_delivery_queue_due", "queued deliveries whose time has come", d.due)
        yield _gauge("fedblog_delivery_queue_retrying", "queued deliveries after a failed attempt",
                     d.retrying)
        yield _gauge("fedblog_delivery_queue_paused", "queued deliveries held by a paused host",
                     d.paused)
        yield _gauge("fedblog_delivery_queue_oldest_seconds", "age of the oldest queued delivery",
                     d.oldest_age)
        yield _gauge("fedblog_delivery_lag_seconds", "how long the most overdue delivery (to a "
                     "host not paused) has been due", d.lag)
        outcomes = CounterMetricFamily("fedblog_deliveries", "deliveries finished, by outcome "
                                       "(delivered, failed: given up)", labels=["outcome"])
        for outcome in ("delivered", "failed"):
            outcomes.add_metric([outcome], d.by_state.get(outcome, 0))
        yield outcomes
        yield _gauge("fedblog_hosts_failing", "remote hosts whose last delivery failed",
                     snap.hosts_failing)
        yield _gauge("fedblog_hosts_paused", "remote hosts paused by the circuit breaker",
                     snap.hosts_paused)
        failures = GaugeMetricFamily("fedblog_host_consecutive_failures", "failed deliveries in a "
                                     "row, for the 50 hosts failing longest", labels=["host"])
        paused = GaugeMetricFamily("fedblog_host_paused", "1 when the host is paused by the "
                                   "circuit breaker (the same 50 hosts)", labels=["host"])
        for host in snap.failing_hosts:
            failures.add_metric([host.host], host.consecutive_failures)
            paused.add_metric([host.host], 1 if host.paused else 0)
        yield failures
        yield paused


def counted(endpoint: ASGIApp) -> ASGIApp:
    """`endpoint` with each answer's status counted in the app's Metrics (one dict increment)."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        statuses: Counter[int] = scope["app"].state.metrics.inbox_statuses

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] += 1
            await send(message)

        try:
            await endpoint(scope, receive, counting_send)
        except Exception:
            statuses[500] += 1
            raise

    app.__name__ = getattr(endpoint, "__name__", "endpoint")
    return app


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics(request: Request) -> Response:
    state: Metrics = request.app.state.metrics
    if not state.token:
        return json_error(404, "not found")
    if not _authorized(request, state.token):
        return json_error(401, "metrics need Authorization: Bearer FEDBLOG_METRICS_TOKEN",
                          headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    services = getattr(request.app.state, "services", None)
    if services is not None:
        await state.refresh(services.operations)
    workers = getattr(request.app.state, "workers", None)
    if workers is not None:
        state.workers_up = workers.state() == "ok" if workers.expected else None
    body, content_type = state.exposition(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


routes = [Route("/metrics", metrics, methods=["GET"])]
