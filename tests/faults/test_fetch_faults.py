"""Fetches from misbehaving remotes: each refused with a clear error, nothing hangs.

The remote is played by an httpx MockTransport serving canned responses (no sockets), so
redirects to private addresses can be tested with the private-address guard switched on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from fedblog.federation.client import ClientPolicy, FederationClient, FetchError, RemoteGone
from fedblog.federation.keys import generate_rsa_pem, load_signing_key

PRIVATE, PUBLIC_ID = generate_rsa_pem()
KEY = load_signing_key("https://blog.example/actor#main-key", PRIVATE, PUBLIC_ID)
ACTOR = {"id": "https://93.184.216.34/users/a", "type": "Person",
         "inbox": "https://93.184.216.34/users/a/inbox"}


def _client(handler: Callable[[httpx.Request], httpx.Response], **policy: object) -> FederationClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    settings = {"allow_private": False, "timeout": 1.0, "max_bytes": 64 * 1024, **policy}
    return FederationClient(http, ClientPolicy(**settings), KEY)  # type: ignore[arg-type]


def _json(document: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(document).encode(),
                          headers={"Content-Type": "application/activity+json"})


async def test_redirect_loop_is_cut() -> None:
    calls = []

    def loop(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(302, headers={"Location": str(request.url)})

    with pytest.raises(FetchError, match="too many redirects"):
        await _client(loop).fetch_json("https://93.184.216.34/users/a")
    assert len(calls) == 4  # the first try and three redirects, no more


@pytest.mark.parametrize("location", ["http://127.0.0.1/latest", "http://169.254.169.254/meta",
                                      "http://10.0.0.7/", "http://[::1]/", "file:///etc/passwd"])
async def test_redirect_to_a_private_address_is_refused_before_connecting(location: str) -> None:
    seen: list[str] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": location})

    with pytest.raises(FetchError):
        await _client(redirect).fetch_json("https://93.184.216.34/users/a")
    assert seen == ["https://93.184.216.34/users/a"]


async def test_huge_and_endless_bodies_are_cut_off() -> None:
    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" + b"1," * 100_000 + b"1]",
                              headers={"Content-Type": "application/activity+json"})

    with pytest.raises(FetchError, match="larger than"):
        await _client(huge).fetch_json("https://93.184.216.34/x")

    async def forever() -> AsyncIterator[bytes]:
        while True:
            yield b" " * 4096
            await asyncio.sleep(0)

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=forever(),
                              headers={"Content-Type": "application/activity+json"})

    with pytest.raises(FetchError, match="larger than"):
        await _client(endless).fetch_json("https://93.184.216.34/x")


async def test_a_remote_that_drips_forever_hits_the_overall_deadline() -> None:
    async def drip() -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await asyncio.sleep(0.2)

    def slow(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip(),
                              headers={"Content-Type": "application/activity+json"})

    started = asyncio.get_running_loop().time()
    with pytest.raises(FetchError, match="longer than"):
        await _client(slow, timeout=0.5).fetch_json("https://93.184.216.34/x")
    assert asyncio.get_running_loop().time() - started < 2


async def test_wrong_type_bad_json_gone_and_foreign_ids() -> None:
    responses = {
        "/html": httpx.Response(200, content=b"<html>", headers={"Content-Type": "text/html"}),
        "/broken": httpx.Response(200, content=b"{nope",
                                  headers={"Content-Type": "application/activity+json"}),
        "/gone": httpx.Response(410),
        "/foreign": _json({**ACTOR, "id": "https://elsewhere.example/users/a"}),
        "/ok": _json(ACTOR),
    }
    client = _client(lambda request: responses[request.url.path])
    with pytest.raises(FetchError, match="not JSON"):
        await client.fetch_json("https://93.184.216.34/html")
    with pytest.raises(FetchError, match="valid JSON"):
        await client.fetch_json("https://93.184.216.34/broken")
    with pytest.raises(RemoteGone):
        await client.fetch_json("https://93.184.216.34/gone")
    with pytest.raises(FetchError, match="another host"):
        await client.fetch_json("https://93.184.216.34/foreign")
    assert (await client.fetch_json("https://93.184.216.34/ok"))["id"] == ACTOR["id"]


async def test_plain_http_is_refused_where_tls_is_expected() -> None:
    client = _client(lambda request: _json(ACTOR), require_https=True)
    with pytest.raises(FetchError, match="scheme"):
        await client.fetch_json("http://93.184.216.34/users/a")
    result = await client.deliver("http://93.184.216.34/inbox", b"{}", KEY, "cavage")
    assert result.status is None and "forbidden target" in (result.error or "")


async def test_every_fetch_is_signed() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(ACTOR)

    await _client(record).fetch_json("https://93.184.216.34/users/a")
    assert 'keyId="https://blog.example/actor#main-key"' in seen[0].headers["signature"]
    assert seen[0].headers["host"] == "93.184.216.34"


async def test_network_failures_are_told_generically_with_the_detail_aside() -> None:
    """What a fetch's `str()` says may reach the unauthenticated sender who caused it (the
    keyId's owner): no connection error, no address; `detail` has them for the log."""
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused to 198.51.100.7")

    with pytest.raises(FetchError) as refused:
        await _client(refuse).fetch_json("https://93.184.216.34/users/a")
    assert str(refused.value) == "could not fetch https://93.184.216.34/users/a"
    assert "Connection refused" in refused.value.detail
    assert "ConnectError" in refused.value.detail

    with pytest.raises(FetchError) as private:
        await _client(lambda r: _json(ACTOR)).fetch_json("http://10.0.0.7/users/a")
    assert str(private.value).endswith("unresolvable or non-public address")
    assert "non-public address 10.0.0.7" in private.value.detail
