"""Hostile answers to the blog's fetches, from real loopback servers: compression bombs, and
refusal reasons that must not tell an unauthenticated sender what the blog's DNS said.

The blog's key fetch runs for anyone who POSTs a signature naming a keyId, before anything is
verified: whatever that fetch costs, any sender can make the blog pay it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import socket
import tracemalloc
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fedblog.federation.addresses import Resolver, using_resolver
from fedblog.federation.client import ClientPolicy, FederationClient, FetchError
from fedblog.federation.keys import generate_rsa_pem, load_signing_key
from fedblog.federation.pool import HostClients
from tests.faults.servers import LoopbackServer
from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor
from tests.peers.signatures import sign_request

PRIVATE, PUBLIC = generate_rsa_pem()
KEY = load_signing_key("https://blog.example/actor#main-key", PRIVATE, PUBLIC)
MiB = 1024 * 1024


def gzip_bomb(gib: int = 1) -> bytes:
    """`gib` GiB of zeros as one gzip member of ≈ 1 MB per GiB (a block of 1 MiB of zeros,
    flushed so that every following block compresses to the same bytes, repeated). Only the
    trailer's checksum is wrong, which nobody reading it to the end ever reaches."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    return first + block * (gib * 1024 - 1) + packer.flush()


class CannedHost(LoopbackServer):
    """Answers GETs from a table path -> (headers, body); anything else 404; `failures[path]`
    times 503 first. Counts GETs by path."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, tuple[dict[str, str], bytes]] = {}
        self.failures: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def answer(self, head: bytes, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        path = head.decode("latin-1").split(" ")[1]
        self.gets[path] += 1
        headers, body = self.routes.get(path, ({}, b""))
        status = "200 OK" if path in self.routes else "404 Not Found"
        if self.failures[path] > 0:
            self.failures[path] -= 1
            headers, body, status = {}, b"", "503 Service Unavailable"
        lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()


@pytest.fixture
async def host() -> AsyncIterator[CannedHost]:
    async with CannedHost() as canned:
        yield canned


def _client(allow_private: bool = True) -> tuple[FederationClient, HostClients]:
    clients = HostClients.guarded(allow_private=allow_private)
    policy = ClientPolicy(allow_private=allow_private, timeout=5.0)
    return FederationClient(clients, policy, KEY), clients


def _serve_json(host: CannedHost, path: str, body: bytes, encoding: str | None = None) -> None:
    headers = {"Content-Type": "application/activity+json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    host.routes[path] = (headers, body)


async def _peak_while(work: Any) -> tuple[int, Any, BaseException | None]:
    """The most memory Python held at once (above what it held before) while awaiting
    `work`, what it returned and what it raised."""
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result: Any = None
        raised: BaseException | None = None
        try:
            result = await work
        except Exception as exc:  # noqa: BLE001 - returned for the test to judge
            raised = exc
        _, peak = tracemalloc.get_traced_memory()
        return peak - base, result, raised
    finally:
        tracemalloc.stop()


async def test_a_gzip_bomb_is_refused_after_the_limit_not_after_inflating(
        host: CannedHost) -> None:
    """1 GiB of zeros in ≈ 1 MB of gzip: refused once 1 MiB has come out, holding ≈ 1 MiB.
    (httpx's aiter_bytes inflates each raw chunk whole: ≈ 64 KiB in, ≈ 64 MiB out, before any
    limit is looked at.)"""
    bomb = gzip_bomb()
    assert len(bomb) < 1.2 * MiB
    _serve_json(host, "/users/bomb", bomb, "gzip")
    client, clients = _client()
    try:
        peak, _, raised = await _peak_while(client.fetch_json(host.url("/users/bomb")))
        # and what the process keeps afterwards (measured before: +205 MiB after 5 fetches)
        before = _rss()
        for _ in range(5):
            with pytest.raises(FetchError, match="larger than"):
                await client.fetch_json(host.url("/users/bomb"))
        grown = _rss() - before
    finally:
        await clients.aclose()
    assert isinstance(raised, FetchError) and "larger than" in str(raised), raised
    assert peak < 8 * MiB, f"held {peak / MiB:.1f} MiB at once"
    assert grown < 32 * MiB, f"the process grew by {grown / MiB:.1f} MiB"


def _rss() -> int:
    """The process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


async def test_compressed_documents_still_arrive(host: CannedHost) -> None:
    """Mastodon answers fetches with gzip (nginx gzip on; app/controllers use Rack::Deflater
    only for some, nginx for the rest): gzip and deflate (zlib-wrapped or raw) are read."""
    document = {"id": host.url("/users/a"), "type": "Person", "inbox": host.url("/inbox"),
                "summary": "x" * 50_000}
    raw = json.dumps(document).encode()
    deflater = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw_deflate = deflater.compress(raw) + deflater.flush()
    _serve_json(host, "/users/a", gzip.compress(raw), "gzip")
    _serve_json(host, "/z", zlib.compress(raw), "deflate")
    _serve_json(host, "/d", raw_deflate, "deflate")
    _serve_json(host, "/br", raw, "br")
    client, clients = _client()
    try:
        assert await client.fetch_json(host.url("/users/a")) == document
        for path in ("/z", "/d"):
            fetched = await client.fetch_json(host.url(path))
            assert fetched == document
        with pytest.raises(FetchError, match="Content-Encoding"):
            await client.fetch_json(host.url("/br"))
        # exactly at the limit is fine, one byte more is not
        policy = ClientPolicy(allow_private=True, max_bytes=len(raw))
        exact = FederationClient(clients, policy, KEY)
        assert await exact.fetch_json(host.url("/users/a")) == document
        small = FederationClient(clients, ClientPolicy(allow_private=True,
                                                       max_bytes=len(raw) - 1), KEY)
        with pytest.raises(FetchError, match="larger than"):
            await small.fetch_json(host.url("/users/a"))
    finally:
        await clients.aclose()


async def test_compressed_media_is_refused_not_inflated(host: CannedHost) -> None:
    """Media is asked for with Accept-Encoding: identity; an answer compressed anyway is
    refused (it would be stored and shown as an image it is not)."""
    host.routes["/pic"] = ({"Content-Type": "image/png", "Content-Encoding": "gzip"},
                           gzip_bomb())
    host.routes["/ok"] = ({"Content-Type": "image/png"}, b"\x89PNG" + bytes(100))
    client, clients = _client()
    try:
        peak, _, raised = await _peak_while(client.fetch_media(host.url("/pic"), max_bytes=MiB))
        assert isinstance(raised, FetchError) and "compressed" in str(raised), raised
        assert peak < 4 * MiB
        assert (await client.fetch_media(host.url("/ok"), max_bytes=MiB)).body.startswith(b"\x89PNG")
    finally:
        await clients.aclose()


def _with_key_id(actor: PeerActor, url: str, key_id: str, body: bytes) -> dict[str, str]:
    """Headers signed by `actor`, naming `key_id` instead of its own key: the blog fetches
    `key_id` before it can tell the signature is worthless."""
    headers = sign_request(actor.secret, "cavage", method="POST", url=url, body=body)
    headers["Signature"] = headers["Signature"].replace(f'keyId="{actor.key_id}"',
                                                        f'keyId="{key_id}"')
    assert key_id in headers["Signature"]
    return {**headers, "Content-Type": "application/activity+json"}


async def _post_naming(blog: BlogServer, peer: Peer, actor: PeerActor, key_id: str) -> httpx.Response:
    owner = key_id.split("#")[0]
    follow = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow",
              "id": f"{owner}/follows/1", "actor": owner, "object": blog.actor}
    body = json.dumps(follow).encode()
    return await peer.client.post(blog.inbox, content=body,
                                  headers=_with_key_id(actor, blog.inbox, key_id, body))


async def test_an_unauthenticated_post_naming_a_bomb_as_its_key(database_url: str,
                                                                   host: CannedHost) -> None:
    """The keyId's document is a gzip bomb: 401 unknown_key, and the blog held at most a few
    MiB for it (before: the first raw chunk alone inflated to ≈ 64 MiB)."""
    _serve_json(host, "/users/bomb", gzip_bomb(), "gzip")
    async with BlogServer(database_url, run_workers=False) as blog, Peer(name="m") as peer:
        mallory = peer.add_actor("mallory")
        post = _post_naming(blog, peer, mallory, host.url("/users/bomb#main-key"))
        peak, response, raised = await _peak_while(post)
        assert raised is None, raised
        assert response.status_code == 401, response.text
        assert response.json()["error"].startswith("unknown_key"), response.text
        assert host.gets["/users/bomb"] >= 1
    assert peak < 8 * MiB, f"held {peak / MiB:.1f} MiB at once for one request"


class MapResolver:
    """Answers from a table; a name not in it does not exist."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


async def test_refusal_reasons_do_not_tell_what_the_blog_resolved(database_url: str) -> None:
    """A sender naming keyIds on intranet names learns nothing from the answers: a name that
    resolves to a private address, one that does not resolve and one that resolves to a public
    address nobody answers on all get the same reason (the details go to the log)."""
    names = {"intranet.example": ["10.0.0.7"], "loop.example": ["127.0.0.1", "::1"]}
    resolver = Resolver(MapResolver(names), timeout=1.0)
    reasons: dict[str, str] = {}
    try:
        with using_resolver(resolver):
            async with BlogServer(database_url, run_workers=False,
                                  allow_private_addresses=False) as blog, Peer(name="m") as peer:
                mallory = peer.add_actor("mallory")
                for name in ("intranet.example", "nowhere.example", "loop.example"):
                    key_id = f"http://{name}/users/x#main-key"
                    response = await _post_naming(blog, peer, mallory, key_id)
                    assert response.status_code == 401, response.text
                    reasons[name] = response.json()["error"].replace(name, "NAME")
    finally:
        resolver.close()
    assert all(r.startswith("unknown_key") for r in reasons.values()), reasons
    assert len(set(reasons.values())) == 1, reasons
    for secret in ("10.0.0.7", "127.0.0.1", "::1", "Name or service", "resolve", "gaierror",
                   "ConnectError", "non-public address "):
        assert secret not in reasons["intranet.example"], reasons


# ---- how many fetches one reply may cause


AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _host_note(host: CannedHost, path: str, in_reply_to: str) -> str:
    """A public Note on `host` by its actor /users/h (served too), answering `in_reply_to`."""
    actor = host.url("/users/h")
    _serve_json(host, "/users/h", json.dumps({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": actor, "type": "Person", "preferredUsername": "h", "inbox": f"{actor}/inbox",
        "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": PUBLIC},
    }).encode())
    _serve_json(host, path, json.dumps({
        "@context": "https://www.w3.org/ns/activitystreams", "id": host.url(path),
        "type": "Note", "attributedTo": actor, "inReplyTo": in_reply_to,
        "content": f"<p>{path}</p>", "to": [AS_PUBLIC], "cc": [f"{actor}/followers"],
    }).encode())
    return host.url(path)


def _gets(peer: Peer, url: str) -> int:
    path = url.split(peer.base_url, 1)[1]
    return sum(1 for f in peer.fetches if f.path == path)


async def test_a_retried_reply_fetches_again_only_what_failed(database_url: str,
                                                               host: CannedHost) -> None:
    """post ← top (another server: 503 the first time) ← a ← b ← c ← bob's reply. The first
    attempt fetches c, b, a and fails on top; the retry (2 s later) fetches top only, not the
    whole chain again (before: every attempt fetched every ancestor: up to 8 attempts × 5)."""
    async with BlogServer(database_url) as blog, Peer(name="masto") as peer:
        post = await blog.post("Ett inlägg")
        top = _host_note(host, "/notes/top", post["ap_id"])
        host.failures["/notes/top"] = 1
        alice, bob = peer.add_actor("alice"), peer.add_actor("bob")
        chain = [top]
        for text in ("a", "b", "c"):
            note = alice.note(in_reply_to=chain[-1], content=f"<p>{text}</p>")
            peer.publish({"@context": "https://www.w3.org/ns/activitystreams", **note})
            chain.append(note["id"])
        create = bob.create_note(in_reply_to=chain[-1], content="<p>svar</p>")
        assert (await bob.post(blog.inbox, create)).status_code == 202
        await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1",
                              create["object"]["id"], expect="pending", timeout=20)
        async with blog.services.runtime.db.connection() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM comments WHERE ap_id = ANY($1)",
                                         chain)
        assert stored == 4
        assert host.gets["/notes/top"] == 2  # the 503, then the answer
        assert [_gets(peer, url) for url in chain[1:]] == [1, 1, 1]


async def test_replies_under_one_unreachable_ancestor_share_its_fetch(
        database_url: str, host: CannedHost) -> None:
    """Twelve replies at once under one note that is not there (404: each is parked until it
    arrives) or whose server fails (503: each retried later): the note is asked for once, or
    about once per second and a half, not once per reply."""
    async with BlogServer(database_url) as blog, Peer(name="masto") as peer:
        await blog.post("Ett inlägg")
        bob = peer.add_actor("bob")
        missing, failing = host.url("/notes/missing"), host.url("/notes/failing")
        host.failures["/notes/failing"] = 1000
        creates = [bob.create_note(in_reply_to=missing if i % 2 else failing,
                                   content=f"<p>{i}</p>") for i in range(24)]
        answers = await asyncio.gather(*(bob.post(blog.inbox, c) for c in creates))
        assert {a.status_code for a in answers} == {202}
        await blog.wait_until("SELECT count(*) FROM inbox_activities WHERE state = 'waiting'",
                              expect=12, timeout=20)
        await blog.wait_until("SELECT count(*) FROM inbox_activities WHERE error IS NOT NULL",
                              expect=12, timeout=20)
        assert host.gets["/notes/missing"] == 1
        assert host.gets["/notes/failing"] <= 3, host.gets
