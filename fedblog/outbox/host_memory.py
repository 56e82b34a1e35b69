"""What this worker process remembers of each remote host between deliveries.

The signature scheme a host last accepted, so the next delivery does not knock twice; and
which hosts are healthy (their success recently written), so a burst to one host writes the
hosts table once a minute rather than once a delivery. Other processes' failure counts are
reset within that minute.
"""

from __future__ import annotations

from collections.abc import Iterable

from fedblog.federation.client import Scheme
from fedblog.storage import hosts as hosts_store
from fedblog.storage.db import Database

HEALTHY_FOR = 60.0         # seconds a host's recorded success is trusted before writing again


class HostMemory:
    def __init__(self, db: Database, *, healthy_for: float = HEALTHY_FOR) -> None:
        self.db = db
        self.healthy_for = healthy_for
        self.schemes: dict[str, Scheme] = {}
        # host -> (scheme, when its success was last written)
        self.healthy: dict[str, tuple[Scheme, float]] = {}

    async def scheme_for(self, host: str) -> Scheme:
        if host not in self.schemes:
            async with self.db.connection() as conn:
                scheme = await hosts_store.signature_scheme(conn, host)
            self.schemes[host] = "rfc9421" if scheme == "rfc9421" else "cavage"
        return self.schemes[host]

    def succeeded(self, host: str, scheme: Scheme, now: float) -> bool:
        """Remember a success; True when it is news the hosts table should be told."""
        self.schemes[host] = scheme
        known = self.healthy.get(host)
        if known is not None and known[0] == scheme and now - known[1] <= self.healthy_for:
            return False
        self.healthy[host] = (scheme, now)
        return True

    def forget_healthy(self, hosts: Iterable[str]) -> None:
        """After a failure, or when writing their success failed: the next success is news."""
        for host in hosts:
            self.healthy.pop(host, None)
