"""The inbox's short memories of what may be replied to and of the ancestors it fetched,
shared by every request (and every activity) the process handles."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from fedblog.blog.comments import Parent
from fedblog.federation.vocab import Note
from fedblog.singleflight import SingleFlight


class ParentCache:
    """The precheck's answer to "may this be replied to?" for recently seen parents: found
    ones only (a live post, a stored comment in any state: replies to held comments are taken),
    each for `ttl` seconds, at most `capacity`. Anything else asks `lookup` (the database). A
    post deleted within the last `ttl` seconds may still be answered 202: the processor
    resolves the parent again from the database and ignores such a reply, so the cache only
    ever changes the sender's answer, never the thread. One per process, built with the
    services."""

    def __init__(self, lookup: Callable[[str], Awaitable[Parent | None]], *,
                 capacity: int = 10_000, ttl: float = 2.0) -> None:
        self.lookup = lookup
        self.capacity = capacity
        self.ttl = ttl
        self._known: OrderedDict[str, tuple[float, Parent]] = OrderedDict()
        self._asking: SingleFlight[str, Parent | None] = SingleFlight()

    async def resolve(self, in_reply_to: str) -> Parent | None:
        known = self._known.get(in_reply_to)
        if known is not None:
            if known[0] > time.monotonic():
                return known[1]
            del self._known[in_reply_to]
        # replies to the same parent arriving together share one query
        parent = await self._asking.run(in_reply_to, lambda: self.lookup(in_reply_to))
        if parent is not None:
            self._known[in_reply_to] = (time.monotonic() + self.ttl, parent)
            while len(self._known) > self.capacity:
                self._known.popitem(last=False)
        return parent


class Unreachable(Exception):
    """The object cannot be fetched now (refused, gone or not there yet)."""


class FetchFailed(Exception):
    """The object's server could not answer just now (5xx, timeout, no connection)."""


class AncestorMemory:
    """What fetching reply ancestors found, shared by every activity the process handles.

    A fetched note (or the finding that a URL serves no usable note) is kept for `found_ttl`
    seconds, longer than an activity's retries take (≈ 4 min): a retried reply does not fetch
    its whole chain again, only what failed. A refusal (4xx: the reply is parked until the
    ancestor arrives) is kept for `refused_ttl`: further replies under it park without asking
    again. A passing failure is kept for `failed_ttl`, shorter than the first retry's wait
    (2 s), so a retry does ask again while a burst of replies under one unreachable URL costs
    one fetch per `failed_ttl`. Concurrent fetches of one URL are one fetch. At most
    `capacity` URLs are remembered.
    """

    def __init__(self, *, capacity: int = 4096, found_ttl: float = 900.0,
                 refused_ttl: float = 600.0, failed_ttl: float = 1.5) -> None:
        self.capacity = capacity
        self.found_ttl = found_ttl
        self.refused_ttl = refused_ttl
        self.failed_ttl = failed_ttl
        self._known: OrderedDict[str, tuple[float, Note | None | Exception]] = OrderedDict()
        self._fetching: SingleFlight[str, Note | None] = SingleFlight()

    async def fetch(self, url: str, fetch: Callable[[str], Awaitable[Note | None]]) -> Note | None:
        """`fetch(url)`, or what it answered a moment ago. Raises Unreachable or FetchFailed
        (remembered ones too, as new exceptions with the same message)."""
        known = self._known.get(url)
        if known is not None:
            if known[0] > time.monotonic():
                outcome = known[1]
                if isinstance(outcome, Exception):
                    raise type(outcome)(*outcome.args)
                return outcome
            del self._known[url]
        return await self._fetching.run(url, lambda: self._fetch(url, fetch))

    async def _fetch(self, url: str, fetch: Callable[[str], Awaitable[Note | None]]) -> Note | None:
        try:
            found = await fetch(url)
        except Unreachable as exc:
            self._remember(url, self.refused_ttl, exc)
            raise
        except FetchFailed as exc:
            self._remember(url, self.failed_ttl, exc)
            raise
        self._remember(url, self.found_ttl, found)
        return found

    def _remember(self, url: str, ttl: float, outcome: Note | None | Exception) -> None:
        self._known[url] = (time.monotonic() + ttl, outcome)
        self._known.move_to_end(url)
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)
