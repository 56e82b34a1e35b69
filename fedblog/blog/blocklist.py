"""The block list, pure: which actors and domains are shut out right now.

One object answers for the inbox, delivery, fetching and pages; it is reloaded from the
database whenever a block changes (NOTIFY) and every few seconds, and honours expiry itself.
Hosts are compared in their one spelling (federation/hosts.py): `Evil.Example.`,
`évil.example` and `xn--vil-9la.example` are one server, written one way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from fedblog.federation.hosts import BadHost, normalise_host, url_host, url_host_or_empty


@dataclass(frozen=True)
class BlockEntry:
    kind: str            # 'actor' or 'domain'
    value: str
    expires_at: float | None   # unix time, None for never

    def active(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


def normalise_domain(domain: str) -> str:
    """A domain as blocked and matched: its one spelling (federation/hosts.py), with or without
    a port; a URL stands for its host. BadHost when it is no host name."""
    domain = domain.strip()
    host = url_host(domain) if "://" in domain else normalise_host(domain)
    # A block is of the server, whatever the scheme: a default port written out blocks it all.
    for default in (":443", ":80"):
        if host.endswith(default):
            return host.removesuffix(default)
    return host


def host_of(url: str) -> str:
    """The URL's host in its one spelling; "" when it has none."""
    return url_host_or_empty(url)


@lru_cache(maxsize=8192)  # actor and key ids repeat: one parse each
def canonical_url(url: str) -> str:
    """The URL with its host in its one spelling (scheme lower case, the rest as written), so an
    actor block matches however its host is spelt; a URL without a host stays as it is."""
    try:
        host = url_host(url)
    except BadHost:
        return url
    scheme, _, rest = url.partition("://")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return f"{scheme.lower()}://{host}{rest[cut:]}"


def _comparable(host: str) -> str:
    try:
        return normalise_host(host)
    except BadHost:
        return host.lower()


def _domain_candidates(host: str) -> Iterable[str]:
    """host[:port] itself, then host without port, then each parent domain (subdomains match;
    addresses have no parents)."""
    yield host
    if host.startswith("["):
        bare = host[:host.find("]") + 1]
    else:
        bare = host.rsplit(":", 1)[0] if ":" in host else host
    if bare != host:
        yield bare
    if bare.startswith("[") or bare.replace(".", "").isascii() and bare.replace(".", "").isdigit():
        return
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
            if entry.kind == "actor":
                self._actors[canonical_url(entry.value)] = entry
            else:
                self._domains[_comparable(entry.value)] = entry

    def domain_blocked(self, host: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return any((entry := self._domains.get(candidate)) is not None and entry.active(now)
                   for candidate in _domain_candidates(_comparable(host)))

    def actor_blocked(self, actor_id: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        entry = self._actors.get(canonical_url(actor_id)) if self._actors else None
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
                   for prefix in _path_prefixes(canonical_url(url.split("#", 1)[0])))

    def __len__(self) -> int:
        return len(self._actors) + len(self._domains)
