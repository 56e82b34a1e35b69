"""A catalogue of bad inbox requests: each gets its 4xx with a reason, nothing is stored, and the
server keeps answering. Signatures here are built by hand with `cryptography` (or by
http_message_signatures), not by fedblog's signer, so each defect is exactly the one intended."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from http_message_signatures import HTTPMessageSigner, algorithms
from http_message_signatures.resolvers import MappingKeyResolver

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor

RESULTS: Counter[tuple[str, int]] = Counter()


def _private_key(actor: PeerActor) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(actor.private_key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def cavage(actor: PeerActor, url: str, body: bytes, *, names: list[str],
           algorithm: str = "rsa-sha256", key_id: str | None = None,
           date: str | None = None, digest: str | None = None) -> dict[str, str]:
    """Sign exactly the listed headers, whatever they are."""
    parts = urlsplit(url)
    values = {
        "(request-target)": f"post {parts.path}",
        "host": parts.netloc,
        "date": date or formatdate(usegmt=True),
        "digest": digest or "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
        "content-type": "application/activity+json",
    }
    string = "\n".join(f"{name}: {values[name]}" for name in names)
    signature = base64.b64encode(_private_key(actor).sign(
        string.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    headers = {"Host": values["host"], "Date": values["date"],
               "Content-Type": values["content-type"],
               "Signature": f'keyId="{key_id or actor.key_id}",algorithm="{algorithm}",'
                            f'headers="{" ".join(names)}",signature="{signature}"'}
    if "digest" in names or digest:
        headers["Digest"] = values["digest"]
    return headers


def rfc9421_expired(actor: PeerActor, url: str, body: bytes) -> dict[str, str]:
    headers = {"Host": urlsplit(url).netloc, "Content-Type": "application/activity+json"}

    class Message:
        method = "POST"

        def __init__(self) -> None:
            self.url = url
            self.headers = headers

    signer = HTTPMessageSigner(signature_algorithm=algorithms.RSA_V1_5_SHA256,
                               key_resolver=MappingKeyResolver(
                                   public_keys={}, private_keys={actor.key_id: _private_key(actor)}))
    now = dt.datetime.now(dt.UTC)
    # expired beyond Mastodon's 1 h of clock skew (app/lib/signed_request.rb)
    signer.sign(Message(), key_id=actor.key_id, created=now - dt.timedelta(minutes=120),
                expires=now - dt.timedelta(minutes=65), label="sig1", include_alg=False,
                covered_component_ids=("@method", "@target-uri"), body=body)
    return headers


ALL = ["(request-target)", "host", "date", "digest"]
Case = tuple[str, str, Callable[[PeerActor, PeerActor, str], tuple[dict[str, str], bytes]], int, str]


def _follow(actor: PeerActor, blog_actor: str, **extra: Any) -> bytes:
    return json.dumps({"@context": "https://www.w3.org/ns/activitystreams",
                       "id": actor.new_id("follows"), "type": "Follow", "actor": actor.id,
                       "object": blog_actor, **extra}).encode()


def _signed(body_of: Callable[[PeerActor, str], bytes], **options: Any) -> Any:
    def build(actor: PeerActor, other: PeerActor, url: str) -> tuple[dict[str, str], bytes]:
        body = body_of(actor, url)
        return cavage(actor, url, body, names=options.get("names", ALL), **{
            k: v for k, v in options.items() if k != "names"}), body
    return build


def _blog_actor(url: str) -> str:
    return url.rsplit("/inbox", 1)[0]


FOLLOW = lambda actor, url: _follow(actor, _blog_actor(url))  # noqa: E731

CASES: list[Case] = [
    ("signature", "unknown algorithm", _signed(FOLLOW, algorithm="rsa-sha512-xyz"), 401,
     "unsupported_algorithm"),
    ("signature", "no (request-target) signed",
     _signed(FOLLOW, names=["host", "date", "digest"]), 401, "missing_required_component"),
    ("signature", "no host signed",
     _signed(FOLLOW, names=["(request-target)", "date", "digest"]), 401,
     "missing_required_component"),
    ("signature", "no date signed",
     _signed(FOLLOW, names=["(request-target)", "host", "digest"]), 401,
     "missing_required_component"),
    ("signature", "digest neither sent nor signed",
     _signed(FOLLOW, names=["(request-target)", "host", "date"]), 401, "missing_required_component"),
    ("signature", "replayed: date 2 days old",
     _signed(FOLLOW, date=formatdate(timeval=time.time() - 2 * 86400, usegmt=True)),
     401, "date_outside_window"),
    ("signature", "digest of another body",
     _signed(FOLLOW, digest="SHA-256=" + base64.b64encode(b"x" * 32).decode()), 401, "digest"),
    ("signature", "rfc9421 expires in the past",
     lambda a, o, url: (lambda body: (rfc9421_expired(a, url, body), body))(FOLLOW(a, url)),
     401, "expired"),
    ("signature", "key of an actor on another host",
     lambda a, o, url: (lambda body: (cavage(o, url, body, names=ALL), body))(FOLLOW(a, url)),
     401, "actor"),
    ("body", "activity id on another host",
     _signed(lambda a, url: _follow(a, _blog_actor(url), id="https://elsewhere.example/f/1")),
     400, "host"),
    ("body", "object where an id is expected",
     _signed(lambda a, url: _follow(a, _blog_actor(url), id={"nested": True})), 400, "id"),
    ("body", "array where an object is expected",
     _signed(lambda a, url: json.dumps([_follow(a, _blog_actor(url)).decode()]).encode()), 400,
     "activity"),
    ("body", "missing id",
     _signed(lambda a, url: json.dumps({"type": "Follow", "actor": a.id,
                                        "object": _blog_actor(url)}).encode()), 400, "id"),
    ("body", "20,000 recipients",
     _signed(lambda a, url: _follow(a, _blog_actor(url),
                                    to=[f"https://r.example/u/{i}" for i in range(20_000)])),
     400, "to"),
    ("body", "nested 100,000 deep",
     _signed(lambda a, url: b'{"deep":' + b"[" * 100_000 + b"]" * 100_000 + b"}"), 400, "nested"),
    ("body", "invalid UTF-8", _signed(lambda a, url: b'{"id": "\xff\xfe"}'), 400, "JSON"),
    ("body", "NUL in a string",
     _signed(lambda a, url: _follow(a, _blog_actor(url), summary="a\u0000b")), 400, "NUL"),
    ("size", "10 MB body",
     _signed(lambda a, url: _follow(a, _blog_actor(url), pad="x" * 10_000_000)), 413,
     "larger than"),
]


@pytest.fixture(scope="module")
def summary() -> Any:
    yield RESULTS
    by_class = Counter(kind for kind, _ in RESULTS.elements())
    print("\nbad inputs tried:", dict(by_class), "statuses:", dict(Counter(
        status for _, status in RESULTS.elements())))


async def test_bad_requests_get_their_status_and_leave_no_trace(database_url: str,
                                                                 summary: Any) -> None:
    async with BlogServer(database_url) as blog, Peer(name="bad") as peer, \
            Peer(name="other") as other_peer:
        mallory, other = peer.add_actor("mallory"), other_peer.add_actor("someone")
        # Keys of both actors are known beforehand, as after earlier contact
        async with httpx.AsyncClient() as client:
            for kind, name, build, status, reason in CASES:
                headers, body = build(mallory, other, blog.inbox)
                response = await client.post(blog.inbox, content=body, headers=headers)
                assert response.status_code == status, (name, response.text[:300])
                assert reason.lower() in response.json()["error"].lower(), (name, response.text)
                RESULTS[(kind, status)] += 1
            # the server is still up and serving a good request from the same actor
            good_body = FOLLOW(mallory, blog.inbox)
            good = await client.post(blog.inbox, content=good_body,
                                     headers=cavage(mallory, blog.inbox, good_body, names=ALL))
            assert good.status_code == 202, good.text
        async with blog.services.runtime.db.connection() as conn:
            assert await conn.fetchval("SELECT count(*) FROM inbox_activities") == 1
