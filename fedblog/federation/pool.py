"""One small httpx client per remote host.

A single httpx client spread over thousands of hosts scans its whole connection pool on every
request (measured: ≈500–900 requests/s); a client per host keeps each scan to a handful of
connections. Clients are kept for the most recently used hosts and closed when evicted.

Deliveries (signed POSTs) go through `poster`, a minimal keep-alive client with the same
guarantees (see rawpost.py), when there is one: `guarded()` makes one, `single()` (tests with
a MockTransport) does not, so there every delivery goes through httpx.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

import httpx

from fedblog.federation.addresses import guarded_transport, tls_context
from fedblog.federation.hosts import url_host_or_empty
from fedblog.federation.rawpost import RawPoster

ClientFactory = Callable[[], httpx.AsyncClient]


class HostClients:
    def __init__(self, factory: ClientFactory, *, max_hosts: int = 4096,
                 poster: RawPoster | None = None) -> None:
        self.factory = factory
        self.poster = poster
        self.max_hosts = max_hosts
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    @classmethod
    def guarded(cls, *, allow_private: bool, per_host_connections: int = 16,
                max_hosts: int = 4096) -> HostClients:
        limits = httpx.Limits(max_connections=per_host_connections,
                              max_keepalive_connections=per_host_connections, keepalive_expiry=30)
        context = tls_context()

        def factory() -> httpx.AsyncClient:
            transport = guarded_transport(allow_private=allow_private, limits=limits,
                                          ssl_context=context)
            return httpx.AsyncClient(transport=transport, trust_env=False)

        poster = RawPoster(allow_private=allow_private, ssl_context=context,
                           max_per_host=per_host_connections, max_idle_per_host=per_host_connections,
                           idle_expiry=30.0, max_hosts=max_hosts)
        return cls(factory, max_hosts=max_hosts, poster=poster)

    @classmethod
    def single(cls, client: httpx.AsyncClient) -> HostClients:
        """Every host through one client (tests with a MockTransport)."""
        pool = cls(lambda: client)
        pool.max_hosts = 1 << 30
        return pool

    def for_url(self, url: str) -> httpx.AsyncClient:
        host = url_host_or_empty(url)
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = self.factory()
            if len(self._clients) > self.max_hosts:
                _, evicted = self._clients.popitem(last=False)
                task = asyncio.get_running_loop().create_task(evicted.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        else:
            self._clients.move_to_end(host)
        return client

    async def aclose(self) -> None:
        clients = {id(c): c for c in self._clients.values()}
        self._clients.clear()
        await asyncio.gather(*(c.aclose() for c in clients.values()), *self._closing,
                             return_exceptions=True)
        if self.poster is not None:
            await self.poster.aclose()
