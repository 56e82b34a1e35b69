"""The operator's HTTP tools (issue 14): /healthz, /readyz and /metrics on the real server.

The queue states are written as the delivery worker leaves them (rows in deliveries and
hosts), then read back through the endpoints as Prometheus would."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import BlogServer

METRICS_TOKEN = "metrics-token-0123456789abcdef"


async def test_healthz_and_readyz_say_what_is_wrong(database_url: str) -> None:
    async with BlogServer(database_url) as blog:
        health = await blog.api.get("/healthz", headers={"Authorization": ""})
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = await blog.api.get("/readyz", headers={"Authorization": ""})
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {
            "database": "ok", "migrations": "ok", "workers": "ok"}}
        assert ready.headers["cache-control"] == "no-store"

        # A migration the database has not had (an upgrade whose `fedblog migrate` did not run).
        async with blog.services.runtime.db.connection() as conn:
            name = await conn.fetchval("DELETE FROM schema_migrations WHERE version = "
                                       "(SELECT max(version) FROM schema_migrations) RETURNING name")
        pending = await blog.api.get("/readyz")
        assert pending.status_code == 503
        assert pending.json()["checks"]["migrations"] == f"pending: {name}"
        assert (await blog.api.get("/healthz")).status_code == 200, "the process is still up"
        async with blog.services.runtime.db.connection() as conn:
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                               int(name[:4]), name)
        assert (await blog.api.get("/readyz")).status_code == 200

        # The queue workers of this process stop: it must not be counted as ready.
        queues = blog.app.state.workers.tasks["queues"]
        queues.cancel()
        await asyncio.wait({queues}, timeout=10)
        stopped = await blog.api.get("/readyz")
        assert stopped.status_code == 503
        assert stopped.json()["checks"]["workers"] == "stopped: queues"


async def test_a_web_only_process_is_ready_without_workers(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        ready = await blog.api.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["workers"] == "not run in this process"


async def test_readyz_fails_when_the_database_is_gone(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        assert (await blog.api.get("/readyz")).status_code == 200
        name = database_url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(database_url.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        gone = await blog.api.get("/readyz")
        assert gone.status_code == 503
        # Said in a word: the database's own message (its host, its users) is for the log.
        assert gone.json()["checks"]["database"].startswith("unreachable (")
        assert name not in gone.text
        assert gone.json()["checks"]["migrations"] == "unknown"
        assert (await blog.api.get("/healthz")).status_code == 200


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict[str, Any], name: str, **labels: str) -> float:
    for sample in families[name].samples:
        if sample.labels == labels and sample.name in (name, name + "_total"):
            return float(sample.value)
    raise AssertionError(f"no {name}{labels}: {families[name].samples}")


async def _seed_queues(blog: BlogServer) -> None:
    """What the delivery worker leaves after a while: one host failing and paused, one slow."""
    async with blog.services.runtime.db.transaction() as conn:
        activity = await conn.fetchval(
            "INSERT INTO outbox_activities (activity_id, type, body) VALUES"
            " ('https://x/a/1', 'Create', '{}') RETURNING id")
        rows = [
            # inbox, host, state, attempts, due in (s), age (s), status, error
            ("https://down.example/inbox", "down.example", "queued", 12, -30, 3600, 503, "HTTP 503"),
            ("https://down.example/u/2/inbox", "down.example", "queued", 12, -40, 3600, 503, "HTTP 503"),
            ("https://slow.example/inbox", "slow.example", "queued", 0, -90, 100, None, None),
            ("https://later.example/inbox", "later.example", "queued", 2, 600, 50, 500, "HTTP 500"),
            ("https://ok.example/inbox", "ok.example", "delivered", 1, 0, 10, 202, None),
            ("https://ok.example/u/1/inbox", "ok.example", "delivered", 1, 0, 10, 202, None),
            ("https://ok.example/u/3/inbox", "ok.example", "delivered", 1, 0, 10, 202, None),
            ("https://gone.example/inbox", "gone.example", "failed", 16, 0, 90000, 500, "HTTP 500"),
        ]
        for inbox, host, state, attempts, due_in, age, status, error in rows:
            await conn.execute(
                "INSERT INTO deliveries (activity, inbox, host, state, attempts, next_attempt_at,"
                " created_at, last_status, last_error, finished_at) VALUES ($1, $2, $3, $4, $5,"
                " now() + make_interval(secs => $6), now() - make_interval(secs => $7), $8, $9,"
                " CASE WHEN $4 = 'queued' THEN NULL ELSE now() END)",
                activity, inbox, host, state, attempts, float(due_in), float(age), status, error)
        await conn.execute(
            "INSERT INTO hosts (host, consecutive_failures, paused_until, last_failure_at) VALUES"
            " ('down.example', 24, now() + interval '1 hour', now() - interval '1 minute'),"
            " ('later.example', 2, NULL, now() - interval '5 minutes')")
        await conn.execute(
            "INSERT INTO inbox_activities (activity_id, actor_id, type, body, key_id, received_at,"
            " error) VALUES ('https://r/1', 'https://r/u', 'Create', '{}', 'k',"
            " now() - interval '42 seconds', 'ConnectError: parent fetch failed'),"
            " ('https://r/2', 'https://r/u', 'Like', '{}', 'k', now() - interval '3 seconds', NULL)")


async def test_metrics_need_their_token_and_show_the_queues(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        assert (await blog.api.get("/metrics")).status_code == 404, "no token set: no /metrics"

    blog = BlogServer(database_url, run_workers=False)
    blog.settings = replace(blog.settings, metrics_token=METRICS_TOKEN)
    async with blog:
        await _seed_queues(blog)
        assert (await blog.api.get("/metrics")).status_code == 401, "the API token is not it"
        wrong = await blog.api.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        async with httpx.AsyncClient(base_url=blog.base_url) as remote:
            unsigned = await remote.post("/inbox", json={"type": "Follow"})
            assert unsigned.status_code == 401
            too_big = await remote.post("/users/blog/inbox", content=b"x" * (1024 * 1024 + 1))
            assert too_big.status_code == 413
            await remote.post("/users/nobody/inbox", content=b"{}")

        scrape = await blog.api.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
        openmetrics = await blog.api.get("/metrics", headers={
            "Authorization": f"Bearer {METRICS_TOKEN}",
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
        assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
        assert openmetrics.text.rstrip().endswith("# EOF")
        metrics = _families(scrape.text)
        assert _value(metrics, "fedblog_inbox_requests", status="401") == 1
        assert _value(metrics, "fedblog_inbox_requests", status="413") == 1
        assert _value(metrics, "fedblog_inbox_requests", status="404") == 1
        assert _value(metrics, "fedblog_inbox_queue_depth", state="received") == 2
        assert _value(metrics, "fedblog_inbox_queue_retrying") == 1
        assert 40 <= _value(metrics, "fedblog_inbox_queue_oldest_seconds") < 100
        assert _value(metrics, "fedblog_delivery_queue_depth") == 4
        assert _value(metrics, "fedblog_delivery_queue_due") == 3
        assert _value(metrics, "fedblog_delivery_queue_retrying") == 3
        assert _value(metrics, "fedblog_delivery_queue_paused") == 2
        assert 3600 <= _value(metrics, "fedblog_delivery_queue_oldest_seconds") < 3700
        # The most overdue delivery to a host that is not paused: slow.example's, 90 s late.
        assert 90 <= _value(metrics, "fedblog_delivery_lag_seconds") < 150
        assert _value(metrics, "fedblog_deliveries", outcome="delivered") == 3
        assert _value(metrics, "fedblog_deliveries", outcome="failed") == 1
        assert _value(metrics, "fedblog_hosts_failing") == 2
        assert _value(metrics, "fedblog_hosts_paused") == 1
        assert _value(metrics, "fedblog_host_consecutive_failures", host="down.example") == 24
        assert _value(metrics, "fedblog_host_paused", host="down.example") == 1
        assert _value(metrics, "fedblog_host_paused", host="later.example") == 0
        assert _value(metrics, "fedblog_database_up") == 1
        assert "process_cpu_seconds" in metrics

        # Cached for a few seconds: a second scrape does not query again.
        async with blog.services.runtime.db.connection() as conn:
            await conn.execute("DELETE FROM deliveries WHERE state = 'queued'")
        again = _families((await blog.api.get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text)
        assert _value(again, "fedblog_delivery_queue_depth") == 4
