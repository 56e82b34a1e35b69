"""Claiming due deliveries and giving their leases back.

A claim is a lease (`locked_until`): while it runs no other worker takes the row; when it runs
out (a crashed worker) another does. So a lease must outlast every attempt started under it,
or one activity is sent twice at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fedblog.storage import outbox as outbox_store
from fedblog.storage.db import Connection, Database
from fedblog.storage.outbox import Delivery

log = logging.getLogger(__name__)


class Leases:
    """One worker's claims: `seconds` long, each attempt taking `attempt_seconds` at most."""

    def __init__(self, db: Database, worker: str, *, attempt_seconds: float,
                 seconds: float | None = None) -> None:
        self.db = db
        self.worker = worker
        self.attempt_seconds = attempt_seconds
        # Long enough for both signature schemes to time out; a crashed worker's claims
        # are taken over after it.
        self.seconds = seconds or 2 * attempt_seconds + 10
        self._given_back: list[int] = []

    async def claim(self, conn: Connection, limit: int) -> list[Delivery]:
        return await outbox_store.claim_due(conn, limit=limit, lease_seconds=self.seconds,
                                            worker=self.worker)

    def long_enough(self, claimed_at: float, now: float) -> bool:
        """Whether a lease taken at `claimed_at` still outlasts two full attempts (both
        signature schemes timing out): otherwise another worker could take it over mid-send."""
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
                await outbox_store.release_lease(conn, ids)
        except Exception as exc:  # noqa: BLE001 - the leases expire by themselves
            log.warning("giving back %d leases failed: %s", len(ids), exc)
