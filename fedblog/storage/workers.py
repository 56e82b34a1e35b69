"""Worker sessions: who holds a claim, and whether it is still alive.

Every process that works the queues keeps a row in `workers` and renews its `heartbeat_at`
every HEARTBEAT_EVERY seconds over a connection of its own. Claims (inbox activities and
deliveries) record the claiming session in `locked_by`; a claim is free again as soon as that
session's heartbeat is STALE_AFTER seconds old — a SIGKILLed process's work is taken over
within seconds, while a slow but live one keeps its claims. A clean stop marks the session
stale at once. `locked_until` remains the backstop for a live process whose work hangs, and
the only rule for claims by a worker that runs no session (`locked_by` names no row: a worker
driven by hand in tests, or a process of an earlier version during an upgrade).

All times in the table are the database's (now()), so workers on different machines agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fedblog.storage.db import Connection, Database

log = logging.getLogger(__name__)
HEARTBEAT_EVERY = 2.0      # seconds between heartbeats
STALE_AFTER = 7.0          # a heartbeat this old means the session is dead: its claims are free
MARGIN = 1.5               # a session stops starting work this long before others may take it
FORGET_AFTER = 24 * 3600.0  # rows of dead sessions are deleted after this long
REAP_EVERY = 300.0


def claim_is_free(alias: str, stale_param: str) -> str:
    """SQL: the row `alias` is claimable — never claimed, its lease ran out, or its claimer's
    session is dead. `stale_param` is the placeholder holding STALE_AFTER."""
    return (f"({alias}.locked_until IS NULL OR {alias}.locked_until < now()"
            f" OR EXISTS (SELECT 1 FROM workers w WHERE w.id = {alias}.locked_by"
            f"   AND w.heartbeat_at <= now() - make_interval(secs => {stale_param})))")


async def beat(conn: Connection, worker_id: str, stale_after: float) -> bool:
    """Register or renew the session; False when it was dead or unknown until now (others may
    have taken over its claims)."""
    row = await conn.fetchrow(
        "WITH old AS (SELECT heartbeat_at FROM workers WHERE id = $1)"
        " INSERT INTO workers AS w (id) VALUES ($1)"
        " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()"
        " RETURNING (SELECT heartbeat_at > now() - make_interval(secs => $2) FROM old) AS alive",
        worker_id, stale_after)
    return bool(row is not None and row["alive"])


async def end(conn: Connection, worker_id: str, stale_after: float) -> None:
    """A clean stop: the session is stale from now on, its remaining claims free at once (the
    row goes with the other dead ones, a day later)."""
    await conn.execute(
        "UPDATE workers SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1",
        worker_id, stale_after)


async def forget_dead(conn: Connection, older_than: float) -> int:
    status = await conn.execute(
        "DELETE FROM workers WHERE heartbeat_at < now() - make_interval(secs => $1)", older_than)
    return int(status.split()[-1])


async def alive(conn: Connection, stale_after: float = STALE_AFTER) -> list[str]:
    """The live sessions' ids."""
    rows = await conn.fetch(
        "SELECT id FROM workers WHERE heartbeat_at > now() - make_interval(secs => $1)"
        " ORDER BY started_at", stale_after)
    return [r["id"] for r in rows]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class WorkerSession:
    """This process's session: its id, its heartbeat and whether its claims are still its own.

    While `running`, `fresh()` is False from MARGIN seconds before others may consider the
    session dead: the workers then start no new work. `held_since(t)` also says whether the
    session stayed alive without a gap since monotonic time `t` (a claim made then is still
    ours). A session that is not running holds nothing back: its row does not exist, so its
    claims rest on their lease alone, as before sessions."""

    def __init__(self, db: Database, worker_id: str | None = None, *,
                 every: float = HEARTBEAT_EVERY, stale_after: float = STALE_AFTER) -> None:
        self.db = db
        self.id = worker_id or new_worker_id()
        self.every = every
        self.stale_after = stale_after
        self.margin = min(MARGIN, stale_after / 4)
        self._fresh_until = 0.0
        self._last_beat = float("-inf")
        self._gap_at = 0.0          # monotonic time the session last (re)started
        self._started = asyncio.Event()
        self._running = False

    def fresh(self, now: float | None = None) -> bool:
        return not self._running or (time.monotonic() if now is None else now) < self._fresh_until

    def held_since(self, claimed_at: float, now: float | None = None) -> bool:
        return self.fresh(now) and self._gap_at <= claimed_at

    async def beat_once(self, conn: Connection) -> None:
        sent_at = time.monotonic()
        continuous = await beat(conn, self.id, self.stale_after)
        if not continuous or sent_at - self._last_beat > self.stale_after - self.margin:
            self._gap_at = sent_at      # claims made before now may belong to others
            if self._last_beat != float("-inf"):
                log.warning("worker session %s was lost for a while; resumed", self.id)
        self._last_beat = sent_at
        self._fresh_until = sent_at + self.stale_after - self.margin
        self._started.set()

    async def _run(self) -> None:
        next_reap = 0.0
        while True:
            try:
                async with self.db.connection() as conn:
                    while True:
                        await self.beat_once(conn)
                        if time.monotonic() >= next_reap:
                            next_reap = time.monotonic() + REAP_EVERY
                            await forget_dead(conn, FORGET_AFTER)
                        await asyncio.sleep(self.every)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database may be restarting
                log.warning("worker heartbeat paused: %s: %s", type(exc).__name__, exc)
                await asyncio.sleep(min(self.every, 1.0))

    @asynccontextmanager
    async def running(self, stop: asyncio.Event) -> AsyncIterator[None]:
        """Heartbeats while the block runs (entered once the session is registered, or `stop`
        is set); at the end the row is deleted, so what is left claimed is free at once. Let
        the work inside wind down first: the block must end only when nothing is in flight."""
        self._running = True
        task = asyncio.create_task(self._run())
        try:
            started = asyncio.ensure_future(self._started.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({started, stopped}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            stopped.cancel()
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._fresh_until = 0.0
            self._running = False
            try:
                async with self.db.connection() as conn:
                    await end(conn, self.id, self.stale_after)
            except Exception as exc:  # noqa: BLE001 - the row simply goes stale
                log.warning("ending worker session %s failed: %s", self.id, exc)
