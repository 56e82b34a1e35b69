"""Claiming due deliveries and giving their leases back.

A claim belongs to the worker's session (storage/workers.py): when the process dies, its
heartbeat stops and other workers take its claims over within seconds. The lease
(`locked_until`) is the backstop for a live worker whose work hangs: when it runs out another
worker takes the row too. So a lease must outlast every attempt started under it, and the
session must still be alive (and have been so since the claim) when an attempt starts, or one
activity is sent twice at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fedblog.storage import outbox as outbox_store
from fedblog.storage.db import Connection, Database
from fedblog.storage.outbox import Delivery
from fedblog.storage.workers import WorkerSession

log = logging.getLogger(__name__)


class Leases:
    """One worker's claims: `seconds` long, each attempt taking `attempt_seconds` at most."""

    def __init__(self, db: Database, worker: str, *, attempt_seconds: float,
                 seconds: float | None = None, session: WorkerSession | None = None) -> None:
        self.db = db
        self.worker = worker
        # None: no heartbeat (tests of the parts); claims then rest on the lease alone
        self.session = session
        self.attempt_seconds = attempt_seconds
        # Long enough for both signature schemes to time out. A dead worker's claims are
        # taken over when its heartbeat stops; this is the backstop for a hung one.
        self.seconds = seconds or 2 * attempt_seconds + 10
        self._given_back: list[int] = []

    async def claim(self, conn: Connection, limit: int) -> list[Delivery]:
        if self.session is None:
            return await outbox_store.claim_due(conn, limit=limit, lease_seconds=self.seconds,
                                                worker=self.worker)
        return await outbox_store.claim_due(conn, limit=limit, lease_seconds=self.seconds,
                                            worker=self.worker,
                                            stale_after=self.session.stale_after)

    def may_claim(self) -> bool:
        """Whether the session is alive enough to claim (or it has none)."""
        return self.session is None or self.session.fresh()

    def long_enough(self, claimed_at: float, now: float) -> bool:
        """Whether a claim made at `claimed_at` is still ours and its lease still outlasts two
        full attempts (both signature schemes timing out): otherwise another worker could take
        it over mid-send."""
        if self.session is not None and not self.session.held_since(claimed_at, now):
            return False
        return claimed_at + self.seconds - now >= 2 * self.attempt_seconds + 1

    def give_back(self, ids: Iterable[int]) -> None:
        self._given_back.extend(ids)

    async def release_given_back(self) -> None:
        """Give back leases of jobs that will not be sent (no attempt counted)."""
        ids, self._given_back = self._given_back, []
        if not ids:
            return
        try:
            async with self.db.connection() as conn:
                if self.session is None:
                    await outbox_store.release_lease(conn, ids)
                else:  # only those still ours: after a gap, others may hold them
                    await outbox_store.release_lease(conn, ids, worker=self.worker)
        except Exception as exc:  # noqa: BLE001 - the leases expire by themselves
            log.warning("giving back %d leases failed: %s", len(ids), exc)
