"""The desk's server-side sessions, and the throttle on failed logins (desk and API alike)."""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from fedblog.storage import sessions as sessions_store
from fedblog.storage.db import Database


def _id_hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


class DeskSessions:
    """A session id is random; only its hash is stored. The row is what makes a sealed cookie
    good: logging out deletes it, and the same cookie, replayed, no longer opens the desk."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, token_hash: bytes, lifetime: int) -> str:
        session_id = secrets.token_urlsafe(32)
        async with self.db.connection() as conn:
            await sessions_store.insert(conn, _id_hash(session_id), token_hash, lifetime)
        return session_id

    async def is_live(self, session_id: str, token_hash: bytes) -> bool:
        async with self.db.connection() as conn:
            return await sessions_store.is_live(conn, _id_hash(session_id), token_hash)

    async def close(self, session_id: str) -> None:
        async with self.db.connection() as conn:
            await sessions_store.delete(conn, _id_hash(session_id))


@dataclass
class _Failures:
    allowance: float
    updated: float


class LoginThrottle:
    """Failed logins (wrong API or desk tokens), counted per client address and per token
    prefix; right tokens cost nothing. A client that has spent `burst` failures waits
    1/`rate` s per further try. A prefix that has had `prefix_burst` failures from anywhere
    (many addresses guessing the same token) refuses clients that have themselves failed
    recently, so a client with no recent failure and the right token still gets in while
    another floods wrong ones. Pure and in memory (per process); `now` is monotonic seconds."""

    PREFIX_CHARS = 8

    def __init__(self, rate: float = 0.1, burst: float = 10, *, prefix_rate: float = 0.5,
                 prefix_burst: float = 50, max_keys: int = 100_000) -> None:
        self.rate, self.burst = rate, burst
        self.prefix_rate, self.prefix_burst = prefix_rate, prefix_burst
        self.max_keys = max_keys
        self._clients: OrderedDict[str, _Failures] = OrderedDict()
        self._prefixes: OrderedDict[str, _Failures] = OrderedDict()

    @classmethod
    def prefix(cls, token: str) -> str:
        return token[: cls.PREFIX_CHARS]

    def _current(self, table: OrderedDict[str, _Failures], key: str, now: float,
                 rate: float, burst: float) -> _Failures | None:
        entry = table.get(key)
        if entry is None:
            return None
        entry.allowance = min(burst, entry.allowance + (now - entry.updated) * rate)
        entry.updated = now
        table.move_to_end(key)
        if entry.allowance >= burst:       # forgiven: nothing to remember
            del table[key]
            return None
        return entry

    def wait(self, client: str, token: str, now: float) -> float | None:
        """None when this try may be checked; else the seconds to wait (Retry-After)."""
        mine = self._current(self._clients, client, now, self.rate, self.burst)
        if mine is not None and mine.allowance < 1:
            return (1 - mine.allowance) / self.rate
        shared = self._current(self._prefixes, self.prefix(token), now, self.prefix_rate,
                               self.prefix_burst)
        if mine is not None and shared is not None and shared.allowance < 1:
            return (1 - shared.allowance) / self.prefix_rate
        return None

    def failed(self, client: str, token: str, now: float) -> None:
        for table, key, burst in ((self._clients, client, self.burst),
                                  (self._prefixes, self.prefix(token), self.prefix_burst)):
            rate = self.rate if table is self._clients else self.prefix_rate
            entry = self._current(table, key, now, rate, burst)
            if entry is None:
                entry = table[key] = _Failures(burst, now)
                if len(table) > self.max_keys:
                    table.popitem(last=False)
            entry.allowance = max(0.0, entry.allowance - 1)
