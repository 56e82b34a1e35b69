"""One spelling of a host, used wherever hosts are compared: blocks, rate limits, the origin
rules, delivery grouping.

`evil.example.`, `EVIL.example`, `évil.example` and `xn--vil-bma.example` are each one host,
written one way: IDNA (UTS #46) A-labels, lower case, no trailing dot, no default port.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit

import idna

DEFAULT_PORTS = {"https": 443, "http": 80}
_IPV4 = re.compile(r"[0-9.]+")
# What a label may be when IDNA refuses it: real hosts carry underscores (and so do some
# blocklists), nothing else outside letters, digits and hyphens.
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


class BadHost(ValueError):
    """Not a host name or address that can be normalised."""


@lru_cache(maxsize=16384)
def normalise_host(host: str, port: int | None = None, scheme: str | None = None) -> str:
    """`host` (a name, an IPv4 address or a bracketed or bare IPv6 address, optionally with
    `:port`) in its one spelling; `port` is kept unless it is the default for `scheme`."""
    host = host.strip()
    if port is None and host.count(":") == 1 and not host.startswith("["):
        name, _, written = host.partition(":")
        if not (written.isascii() and written.isdigit()):
            raise BadHost(f"not a port: {written[:20]!r}")
        host, port = name, int(written)
    elif host.startswith("[") and "]:" in host:
        name, _, written = host.rpartition(":")
        if not (written.isascii() and written.isdigit()):
            raise BadHost(f"not a port: {written[:20]!r}")
        host, port = name, int(written)
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        raise BadHost("empty host")
    if ":" in host:  # IPv6, in its one compressed spelling
        try:
            shown = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError as exc:
            raise BadHost(f"not an IPv6 address: {host[:80]!r}") from exc
    elif _IPV4.fullmatch(host):
        try:
            shown = str(ipaddress.IPv4Address(host))
        except ValueError:
            shown = host  # 1.2.3 and the like: not a name either, compared as written
    else:
        shown = _name(host)
    if port is not None and (scheme is None or DEFAULT_PORTS.get(scheme) != port):
        if not 0 < port < 65536:
            raise BadHost(f"port out of range: {port}")
        return f"{shown}:{port}"
    return shown


def _name(host: str) -> str:
    """A lower-case host name (no trailing dot) as IDNA A-labels."""
    try:
        shown = idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError is one
        # Underscores and the like appear in real hosts; plain ASCII labels stay as written.
        if host.isascii() and all(_ASCII_LABEL.fullmatch(label) for label in host.split(".")):
            shown = host
        else:
            raise BadHost(f"not a host name: {host[:80]!r}") from exc
    if len(shown) > 253:
        raise BadHost(f"host name longer than 253 characters: {shown[:80]!r}")
    return shown


@lru_cache(maxsize=16384)  # actor, key and object ids repeat from one activity to the next
def url_host(url: str) -> str:
    """The normalised host of `url` (its default port dropped); BadHost when it has none."""
    try:
        parts = urlsplit(url)
        name, port = parts.hostname, parts.port
    except ValueError as exc:
        raise BadHost(f"not a valid URL: {url[:80]!r}") from exc
    if not name:
        raise BadHost(f"has no host: {url[:80]!r}")
    return normalise_host(name, port, parts.scheme.lower())


def url_host_or_empty(url: str) -> str:
    try:
        return url_host(url)
    except BadHost:
        return ""
