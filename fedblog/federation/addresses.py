"""Which remote URLs fedblog may contact: no private, loopback or link-local targets."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


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
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise ForbiddenAddress(f"cannot resolve {host!r}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not _is_public(address):
            raise ForbiddenAddress(f"{host!r} resolves to non-public address {address}")
