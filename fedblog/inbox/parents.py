"""The inbox's short memory of what may be replied to, shared by every request it receives."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from fedblog.blog.comments import Parent
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
