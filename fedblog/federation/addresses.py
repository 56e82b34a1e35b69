"""Which remote URLs fedblog may contact: no private, loopback or link-local targets."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpcore
import httpx


class ForbiddenAddress(Exception):
    """The URL's scheme or resolved address is not one fedblog may contact."""


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _is_public(ip.ipv4_mapped)
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


async def public_addresses(host: str, port: int) -> list[str]:
    """Resolve `host` once and return its addresses, refusing if any of them is not public.

    Connecting to one of these (rather than resolving the name again) is what keeps a
    rebinding DNS from answering 127.0.0.1 the second time.
    """
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ForbiddenAddress(f"cannot resolve {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise ForbiddenAddress(f"{host!r} resolves to no address")
    for address in addresses:
        if not _is_public(address):
            raise ForbiddenAddress(f"{host!r} resolves to non-public address {address}")
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
            except ForbiddenAddress as exc:
                raise httpcore.ConnectError(str(exc)) from exc
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
