"""The SSRF guard refuses private targets after resolving names, and allows public ones."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections import Counter

import httpx
import pytest

from fedblog.federation.addresses import (
    ForbiddenAddress,
    Resolver,
    check_url,
    embedded_ipv4,
    guarded_transport,
    public_addresses,
    using_resolver,
)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/inbox", "http://localhost:8000/x", "http://10.1.2.3/", "http://192.168.0.1/",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
])
async def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url(url, allow_private=False)
    await check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://93.184.216.34/inbox", "https://[2606:4700::1]/x"])
async def test_public_literals_are_allowed(url: str) -> None:
    await check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///nohost",
                                 "javascript:alert(1)"])
async def test_bad_schemes_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url(url, allow_private=True)


async def test_https_required_in_production() -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url("http://93.184.216.34/", allow_private=False, require_https=True)


async def test_guarded_backend_refuses_a_name_that_resolves_privately() -> None:
    """The connection itself is checked (no second DNS lookup can slip through)."""
    limits = httpx.Limits(max_connections=5)
    async with httpx.AsyncClient(transport=guarded_transport(allow_private=False,
                                                             limits=limits)) as client:
        for url in ("http://localhost:1/", "http://127.0.0.1:1/", "http://[::1]:1/"):
            with pytest.raises(httpx.ConnectError, match="non-public"):
                await client.get(url)
    async with httpx.AsyncClient(transport=guarded_transport(allow_private=True,
                                                             limits=limits)) as client:
        with pytest.raises(httpx.ConnectError) as refused:
            await client.get("http://127.0.0.1:1/")
        assert "non-public" not in str(refused.value)


# ---- addresses that embed an IPv4 address are judged by it


@pytest.mark.parametrize("address", [
    "64:ff9b::7f00:1",        # NAT64 (RFC 6052) of 127.0.0.1
    "64:ff9b::a00:1",         # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",     # NAT64 of 169.254.169.254 (cloud metadata)
    "64:ff9b:1::a00:1",       # NAT64 local-use prefix (RFC 8215): the local network
    "64:ff9b:1:808:8::",      # ... whatever it embeds
    "::127.0.0.1",            # IPv4-compatible (deprecated)
    "::a00:1",
    "::ffff:0:127.0.0.1",     # IPv4-translated (SIIT)
    "::ffff:127.0.0.1",       # IPv4-mapped
    "2002:7f00:1::",          # 6to4 of 127.0.0.1
    "2002:a00:1::1",          # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::", "::1", "fec0::1", "3fff::1", "ff02::1",
])
async def test_addresses_embedding_a_private_ipv4_are_refused(address: str) -> None:
    with pytest.raises(ForbiddenAddress):
        await check_url(f"http://[{address}]/inbox", allow_private=False)


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "::ffff:0:8.8.8.8", "2002:808:808::1",
                                     "::ffff:8.8.8.8", "2606:4700::1111"])
async def test_addresses_embedding_a_public_ipv4_are_allowed(address: str) -> None:
    await check_url(f"http://[{address}]/inbox", allow_private=False)


def test_embedded_ipv4_is_found_in_each_spelling() -> None:
    def inner(text: str) -> str | None:
        found = embedded_ipv4(ipaddress.IPv6Address(text))
        return None if found is None else str(found)

    assert inner("64:ff9b::7f00:1") == "127.0.0.1"
    assert inner("::127.0.0.1") == "127.0.0.1"
    assert inner("::ffff:0:127.0.0.1") == "127.0.0.1"
    assert inner("::ffff:10.1.2.3") == "10.1.2.3"
    assert inner("2002:7f00:1::") == "127.0.0.1"
    assert inner("2606:4700::1111") is None


# ---- what a refusal says


async def test_a_refusal_says_nothing_of_what_the_name_resolved_to() -> None:
    """`str()` may reach an unauthenticated sender; the address is only in `detail`."""
    resolver = Resolver(lambda host, port: ["10.0.0.7"])
    try:
        with using_resolver(resolver), pytest.raises(ForbiddenAddress) as refused:
            await check_url("http://intranet.example/", allow_private=False)
    finally:
        resolver.close()
    assert "10.0.0.7" not in str(refused.value) and "10.0.0.7" in refused.value.detail

    def nxdomain(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    resolver = Resolver(nxdomain)
    try:
        with using_resolver(resolver), pytest.raises(ForbiddenAddress) as unknown:
            await check_url("http://nowhere.example/", allow_private=False)
    finally:
        resolver.close()
    assert str(unknown.value) == str(refused.value)
    assert "Name or service not known" in unknown.value.detail


# ---- a slow resolver


class SlowResolver:
    """Hangs every lookup until released (as a resolver whose servers do not answer)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: Counter[str] = Counter()
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self._lock:
            self.calls[host] += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            self.release.wait(30)
            return ["93.184.216.34"]
        finally:
            with self._lock:
                self.running -= 1


async def test_a_hanging_resolver_costs_a_deadline_and_a_bounded_number_of_threads() -> None:
    """A resolver that never answers: each caller gives up after the deadline; one name asked
    for by 50 callers is one lookup (one thread); 40 names take at most `threads` threads and
    the rest are refused at once beyond `pending`; the event loop's default executor (which
    everything else uses) stays free."""
    slow = SlowResolver()
    resolver = Resolver(slow, timeout=0.3, threads=4, pending=8)
    loop = asyncio.get_running_loop()
    try:
        with using_resolver(resolver):
            started = time.monotonic()
            same = await asyncio.gather(
                *(check_url("http://slow.example/", allow_private=False) for _ in range(50)),
                return_exceptions=True)
            assert time.monotonic() - started < 1.5
            assert all(isinstance(r, ForbiddenAddress) for r in same)
            assert "took longer than" in same[0].detail  # type: ignore[union-attr]
            assert slow.calls["slow.example"] == 1
            # the lookup given up on still runs (a thread cannot be stopped); asked again,
            # it is joined, not started again
            with pytest.raises(ForbiddenAddress):
                await check_url("http://slow.example/", allow_private=False)
            assert slow.calls["slow.example"] == 1

            many = await asyncio.gather(
                *(check_url(f"http://n{i}.example/", allow_private=False) for i in range(40)),
                return_exceptions=True)
            assert all(isinstance(r, ForbiddenAddress) for r in many)
            assert sum("resolver busy" in r.detail for r in many) >= 40 - 8  # type: ignore[union-attr]
            assert slow.most_running <= 4
            assert resolver.in_flight <= 8
            # the default executor is untouched: it answers at once
            assert await asyncio.wait_for(loop.run_in_executor(None, lambda: 42), 0.5) == 42
    finally:
        slow.release.set()
        resolver.close()
    # once the resolver answers, lookups work again and nothing stays in flight
    fresh = Resolver(lambda host, port: ["93.184.216.34"], timeout=1.0)
    try:
        with using_resolver(fresh):
            await check_url("http://slow.example/", allow_private=False)
        assert fresh.in_flight == 0
    finally:
        fresh.close()


async def test_lookups_of_one_name_at_once_share_one_answer() -> None:
    calls: Counter[str] = Counter()

    def lookup(host: str, port: int) -> list[str]:
        calls[host] += 1
        time.sleep(0.1)
        return ["93.184.216.34", "2606:4700::1111"]

    resolver = Resolver(lookup)
    try:
        with using_resolver(resolver):
            found = await asyncio.gather(*(public_addresses("a.example", 443) for _ in range(20)))
    finally:
        resolver.close()
    assert found == [["93.184.216.34", "2606:4700::1111"]] * 20
    assert calls["a.example"] == 1


async def test_a_name_the_resolver_cannot_even_encode_is_refused_not_a_crash() -> None:
    """socket.getaddrinfo raises UnicodeError (not an OSError) for a label over 63 bytes."""
    with pytest.raises(ForbiddenAddress):
        await check_url(f"http://{'a' * 64}.example/", allow_private=False)
