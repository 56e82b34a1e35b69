"""Which remote URLs fedblog may contact: no private, loopback or link-local targets.

Names are resolved by a `Resolver`: its own small pool of threads (a resolver that hangs cannot
take the event loop's default executor that everything else uses), a deadline per lookup, one
lookup in flight per name (callers asking for the same name share it, even after an earlier
caller gave up on it), and a bound on the lookups waiting at once.

A refusal says only that the target was refused (`str(exc)`): the sender of an unauthenticated
request may be probing which names resolve to what. What was refused and why (the DNS answer,
the address) is in `exc.detail`, for the log.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REFUSED = "target refused: unresolvable or non-public address"


class ForbiddenAddress(Exception):
    """The URL's scheme or resolved address is not one fedblog may contact. `str()` is safe to
    show anyone; `detail` says what exactly (for the log)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message


_V6 = ipaddress.IPv6Network
# Not globally reachable whatever the Python version's is_global says (IANA special-purpose
# registry; Python 3.11 still calls several of these global).
_NEVER_PUBLIC_V6 = (
    _V6("64:ff9b:1::/48"),   # NAT64 local-use (RFC 8215): translates into the local network
    _V6("2001::/32"),        # Teredo: the client's IPv4 address is obfuscated inside
    _V6("2001:db8::/32"),    # documentation
    _V6("3fff::/20"),        # documentation (RFC 9637)
    _V6("5f00::/16"),        # SRv6 SIDs (RFC 9602)
    _V6("fec0::/10"),        # site-local (deprecated, still routed by some stacks)
    _V6("100::/64"),         # discard-only
)
_NEVER_PUBLIC_V4 = (
    ipaddress.IPv4Network("192.88.99.0/24"),  # 6to4 relay anycast (deprecated)
)
_EMBEDS_LAST_32 = (
    _V6("::ffff:0:0/96"),     # IPv4-mapped
    _V6("::ffff:0:0:0/96"),   # IPv4-translated (SIIT)
    _V6("64:ff9b::/96"),      # NAT64 well-known prefix (RFC 6052)
    _V6("::/96"),             # IPv4-compatible (deprecated): ::a.b.c.d
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, translated, NAT64, compatible,
    6to4), the one a packet to it ends up at; None when it embeds none."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    for network in _EMBEDS_LAST_32:
        if ip in network:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """True for an address anyone on the internet could reach: judged by the IPv4 address an
    IPv6 one embeds, when it embeds one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_multicast or any(ip in net for net in _NEVER_PUBLIC_V6):
            return False
        if ip == ipaddress.IPv6Address("::") or ip == ipaddress.IPv6Address("::1"):
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
        return ip.is_global
    if any(ip in net for net in _NEVER_PUBLIC_V4):
        return False
    # is_global excludes private, loopback, link-local, shared (CGNAT), reserved and documentation ranges.
    return ip.is_global and not ip.is_multicast



def check_scheme(url: str, *, require_https: bool) -> tuple[str, int]:
    parts = urlsplit(url)
    allowed = ("https",) if require_https else ("http", "https")
    if parts.scheme not in allowed:
        raise ForbiddenAddress(f"scheme {parts.scheme or '(none)'!r} not allowed for {url!r}")
    if not parts.hostname:
        raise ForbiddenAddress(f"no host in {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ForbiddenAddress(f"bad port in {url!r}") from exc
    return parts.hostname, port


async def check_url(url: str, *, allow_private: bool, require_https: bool = False) -> None:
    """Refuse URLs whose host resolves to a non-public address (checked after DNS)."""
    host, port = check_scheme(url, require_https=require_https)
    if allow_private:
        return
    await public_addresses(host, port)


Lookup = Callable[[str, int], list[str]]


def system_lookup(host: str, port: int) -> list[str]:
    """The system resolver (blocking: run in a Resolver's threads)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class Resolver:
    """Bounded name resolution (see the module's docstring).

    At most `threads` lookups run at once (in threads of its own: a lookup that hangs keeps
    its thread until the system resolver gives up, but never one of anyone else's); at most
    `pending` distinct names are being looked up or waiting for a thread, beyond which a
    lookup is refused at once; a caller waits at most `timeout` seconds. A name whose lookup
    hangs holds one thread, however many callers ask for it meanwhile.
    """

    def __init__(self, lookup: Lookup = system_lookup, *, timeout: float = 5.0,
                 threads: int = 32, pending: int = 128) -> None:
        self.lookup = lookup
        self.timeout = timeout
        self.pending = pending
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="fedblog-dns")
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, int], concurrent.futures.Future[list[str]]] = {}

    def _start(self, key: tuple[str, int]) -> concurrent.futures.Future[list[str]]:
        with self._lock:
            running = self._inflight.get(key)
            if running is not None:
                return running
            if len(self._inflight) >= self.pending:
                raise ForbiddenAddress(REFUSED, f"resolver busy: {len(self._inflight)} lookups "
                                                f"pending, {key[0]!r} not looked up")
            started = self._executor.submit(self.lookup, *key)
            self._inflight[key] = started

        def finished(_: concurrent.futures.Future[list[str]]) -> None:
            with self._lock:
                if self._inflight.get(key) is started:
                    del self._inflight[key]

        started.add_done_callback(finished)
        return started

    @property
    def in_flight(self) -> int:
        """Lookups running or waiting for a thread (including ones every caller gave up on)."""
        with self._lock:
            return len(self._inflight)

    async def resolve(self, host: str, port: int) -> list[str]:
        shared = self._start((host, port))
        try:
            # shield: a caller that gives up must not cancel the lookup the others wait for
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(shared)),
                                          self.timeout)
        except TimeoutError as exc:
            raise ForbiddenAddress(REFUSED, f"resolving {host!r} took longer than "
                                            f"{self.timeout} s") from exc
        except (OSError, UnicodeError, ValueError) as exc:  # gaierror; IDNA: label too long
            raise ForbiddenAddress(REFUSED, f"cannot resolve {host!r}: {exc}") from exc

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_resolver: Resolver | None = None


def default_resolver() -> Resolver:
    """The process's resolver, made on first use."""
    global _resolver
    if _resolver is None:
        _resolver = Resolver()
    return _resolver


@contextmanager
def using_resolver(resolver: Resolver) -> Iterator[Resolver]:
    """Resolve every name with `resolver` while inside (tests: a resolver that is slow or
    answers what the test needs)."""
    global _resolver
    previous, _resolver = _resolver, resolver
    try:
        yield resolver
    finally:
        _resolver = previous


async def public_addresses(host: str, port: int) -> list[str]:
    """Resolve `host` once and return its addresses, refusing if any of them is not public.

    Connecting to one of these (rather than resolving the name again) is what keeps a
    rebinding DNS from answering 127.0.0.1 the second time.
    """
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        found = await default_resolver().resolve(host, port)
        try:
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
        except ValueError as exc:
            raise ForbiddenAddress(REFUSED, f"{host!r} resolved to {found!r}") from exc
    if not addresses:
        raise ForbiddenAddress(REFUSED, f"{host!r} resolves to no address")
    for address in addresses:
        if not is_public(address):
            raise ForbiddenAddress(REFUSED, f"{host!r} resolves to non-public address {address}")
    return list(dict.fromkeys(str(a) for a in addresses))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses it has checked itself.

    Checking a name and then letting the HTTP library resolve it again leaves a gap (DNS
    rebinding: the second answer may be 127.0.0.1). Here the name is resolved once, every
    address is checked, and the connection goes to a checked address.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        target = host
        if not self.allow_private:
            try:
                target = (await public_addresses(host, port))[0]
            except ForbiddenAddress as exc:  # the detail, for whoever logs the ConnectError
                raise httpcore.ConnectError(exc.detail) from exc
        return await self._inner.connect_tcp(target, port, timeout=timeout,
                                             local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never a remote target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs milliseconds: make one context and share it."""
    return ssl.create_default_context(cafile=certifi.where())


def guarded_transport(*, allow_private: bool, limits: httpx.Limits,
                      ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection goes through GuardedBackend."""
    transport = httpx.AsyncHTTPTransport(limits=limits, verify=ssl_context or tls_context())
    transport._pool = httpcore.AsyncConnectionPool(  # the documented knobs, plus our backend
        ssl_context=ssl_context or tls_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(allow_private=allow_private),
    )
    return transport
