"""The operator's read model: is the database there and migrated (readiness), how deep and how
old the queues are, how deliveries ended, which hosts fail or are paused, the last errors.
`fedblog status`, `/readyz` and `/metrics` all read it here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fedblog.storage import operations as ops_store
from fedblog.storage.db import Database, list_migrations


@dataclass(frozen=True)
class Readiness:
    database: str            # "ok" or why not, in a word (shown to anyone by /readyz)
    migrations: str          # "ok" or which are pending
    detail: str = ""         # the database's own error (host names, users): logs and CLI only

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.migrations == "ok"


@dataclass(frozen=True)
class InboxQueue:
    received: int = 0        # stored, not processed yet
    waiting: int = 0         # replies waiting for their parent to arrive
    retrying: int = 0        # received ones that failed once and wait for another try
    oldest_age: float = 0.0  # seconds since the oldest unprocessed activity arrived (the lag)


@dataclass(frozen=True)
class DeliveryQueue:
    queued: int = 0
    retrying: int = 0        # queued after at least one failed attempt
    due: int = 0             # their time has come
    paused: int = 0          # held by a paused host
    oldest_age: float = 0.0  # seconds since the oldest queued delivery was made
    lag: float = 0.0         # how late the most overdue delivery (host not paused) is
    by_state: dict[str, int] = field(default_factory=dict)   # queued / delivered / failed


@dataclass(frozen=True)
class FailingHost:
    host: str
    consecutive_failures: int
    paused_until: datetime | None
    paused: bool
    last_failure_at: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class RecentError:
    kind: str                # "delivery" or "inbox"
    at: datetime | None
    where: str               # the inbox delivered to, or the activity's type and actor
    error: str


@dataclass(frozen=True)
class Snapshot:
    inbox: InboxQueue
    deliveries: DeliveryQueue
    hosts_failing: int
    hosts_paused: int
    failing_hosts: list[FailingHost]


def _seconds(value: Any) -> float:
    return max(0.0, float(value)) if value is not None else 0.0


class Operations:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def readiness(self, timeout: float = 2.0) -> Readiness:
        """The database answers within `timeout` and every sql/ migration is applied."""
        try:
            async with asyncio.timeout(timeout):
                async with self.db.connection() as conn:
                    await ops_store.ping(conn)
                    applied = await ops_store.applied_migrations(conn)
        except TimeoutError:
            return Readiness(f"no answer within {timeout:g} s", "unknown")
        except Exception as exc:  # noqa: BLE001 -- any failure to reach the database is "not ready"
            return Readiness(f"unreachable ({type(exc).__name__})", "unknown",
                             detail=f"{type(exc).__name__}: {exc}"[:300])
        pending = [m.name for m in list_migrations() if m.name not in applied]
        return Readiness("ok", "ok" if not pending else "pending: " + ", ".join(pending))

    async def snapshot(self, *, hosts: int = 50, totals: dict[str, int] | None = None) -> Snapshot:
        """`totals`: the deliveries by state when the caller has them (counting them reads the
        whole table: about 0.2 s per million deliveries)."""
        async with self.db.connection() as conn:
            inbox = await ops_store.inbox_queue(conn)
            queue = await ops_store.delivery_queue(conn)
            by_state = totals if totals is not None else await ops_store.deliveries_by_state(conn)
            failing, paused, rows = await ops_store.host_trouble(conn, hosts)
        return Snapshot(
            inbox=InboxQueue(received=int(inbox.get("received") or 0),
                             waiting=int(inbox.get("waiting") or 0),
                             retrying=int(inbox.get("retrying") or 0),
                             oldest_age=_seconds(inbox.get("oldest_age"))),
            deliveries=DeliveryQueue(queued=int(queue.get("queued") or 0),
                                     retrying=int(queue.get("retrying") or 0),
                                     due=int(queue.get("due") or 0),
                                     paused=int(queue.get("paused") or 0),
                                     oldest_age=_seconds(queue.get("oldest_age")),
                                     lag=_seconds(queue.get("lag")),
                                     by_state=by_state),
            hosts_failing=failing, hosts_paused=paused,
            failing_hosts=[FailingHost(**row) for row in rows],
        )

    async def last_errors(self, limit: int = 10) -> list[RecentError]:
        """The latest delivery failures (one per host) and inbox errors, newest first."""
        async with self.db.connection() as conn:
            deliveries = await ops_store.last_delivery_errors(conn, limit)
            given_up = await ops_store.last_given_up(conn, limit)
            inbox = await ops_store.last_inbox_errors(conn, limit)
        seen = {r["inbox"] for r in deliveries}
        found = [RecentError("delivery", r["at"], r["inbox"],
                             (r["last_error"] or (f"HTTP {r['last_status']}" if r["last_status"]
                                                  else "failed"))
                             + (" (given up)" if r["state"] == "failed" else ""))
                 for r in [*deliveries, *(g for g in given_up if g["inbox"] not in seen)]]
        found += [RecentError("inbox", r["at"], f"{r['type']} from {r['actor_id']}",
                              f"{r['error']} ({r['state']})")
                  for r in inbox]
        found.sort(key=lambda e: e.at.timestamp() if e.at else 0.0, reverse=True)
        return found[:limit]
