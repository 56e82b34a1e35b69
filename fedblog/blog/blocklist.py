"""The block list, pure: which actors and domains are shut out right now.

One object answers for the inbox, delivery, fetching and pages; it is reloaded from the
database whenever a block changes (NOTIFY) and every few seconds, and honours expiry itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BlockEntry:
    kind: str            # 'actor' or 'domain'
    value: str
    expires_at: float | None   # unix time, None for never

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


def normalise_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    if "://" in domain:
        domain = urlsplit(domain).netloc
    return domain


@lru_cache(maxsize=8192)  # actor and key ids repeat: one parse each
def host_of(url: str) -> str:
    try:
        return (urlsplit(url).netloc or "").lower()
    except ValueError:
        return ""


def _domain_candidates(host: str) -> Iterable[str]:
    """host[:port] itself, then host without port, then each parent domain (subdomains match)."""
    yield host
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if bare != host:
        yield bare
    parts = bare.split(".")
    for i in range(1, len(parts) - 1):
        yield ".".join(parts[i:])


def _path_prefixes(base: str) -> Iterator[str]:
    """The URL itself and each prefix ending before one of its path's slashes: an actor's
    id is blocked with everything under it (its key, its statuses)."""
    yield base
    start = base.find("://")
    index = base.find("/", start + 3 if start >= 0 else 0)
    while index > 0:
        yield base[:index]
        index = base.find("/", index + 1)


class Blocklist:
    def __init__(self, entries: Iterable[BlockEntry] = ()) -> None:
        self.replace(entries)

    def replace(self, entries: Iterable[BlockEntry]) -> None:
        self._actors: dict[str, BlockEntry] = {}
        self._domains: dict[str, BlockEntry] = {}
        for entry in entries:
            target = self._actors if entry.kind == "actor" else self._domains
            target[entry.value if entry.kind == "actor" else normalise_domain(entry.value)] = entry

    def domain_blocked(self, host: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return any((entry := self._domains.get(candidate)) is not None and entry.active(now)
                   for candidate in _domain_candidates(host.lower()))

    def actor_blocked(self, actor_id: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        entry = self._actors.get(actor_id)
        if entry is not None and entry.active(now):
            return True
        return self.domain_blocked(host_of(actor_id), now)

    def url_blocked(self, url: str, now: float | None = None) -> bool:
        """For fetches and deliveries: the URL's domain is blocked, or it is a blocked actor's."""
        now = time.time() if now is None else now
        if self.domain_blocked(host_of(url), now):
            return True
        if not self._actors:
            return False
        return any((entry := self._actors.get(prefix)) is not None and entry.active(now)
                   for prefix in _path_prefixes(url.split("#", 1)[0]))

    def __len__(self) -> int:
        return len(self._actors) + len(self._domains)
