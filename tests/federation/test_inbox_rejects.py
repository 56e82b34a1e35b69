"""Bad inbox requests: each gets its status and reason, and leaves nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor
from tests.peers.signatures import sign_request

Tamper = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]


def _change_body(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    return headers, body.replace(b"Follow", b"Flollow")


def _drop(name: str) -> Tamper:
    def tamper(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return {k: v for k, v in headers.items() if k.lower() != name}, body
    return tamper


def _replace_body(new: bytes) -> Tamper:
    def tamper(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return headers, new
    return tamper


CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("unsigned", {"sign": False}, 401, "missing_signature"),
    ("body changed after signing", {"tamper": _change_body}, 401, "digest_mismatch"),
    ("digest header removed", {"tamper": _drop("digest")}, 401, "missing_signed_header"),
    ("date 13 hours old", {"date_offset": -13 * 3600}, 401, "date_outside_window"),
    # Mastodon's window (app/lib/signed_request.rb): 5 min + 1 h of skew when nothing expires
    ("date 3 hours old", {"date_offset": -3 * 3600}, 401, "date_outside_window"),
    ("date 66 minutes old", {"date_offset": -66 * 60}, 401, "date_outside_window"),
    ("date 2 hours ahead", {"date_offset": 2 * 3600}, 401, "date_outside_window"),
    ("rfc9421 body changed", {"scheme": "rfc9421", "tamper": _change_body}, 401, "digest"),
    ("rfc9421 created 13 h old", {"scheme": "rfc9421", "date_offset": -13 * 3600}, 401,
     "created_outside_window"),
    ("rfc9421 created 3 h old", {"scheme": "rfc9421", "date_offset": -3 * 3600}, 401,
     "created_outside_window"),
    ("garbage signature header", {"tamper": lambda h, b: ({**h, "Signature": "garbage"}, b)},
     401, "malformed_signature"),
]


async def _stored_nothing(blog: BlogServer) -> None:
    async with blog.services.runtime.db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM inbox_activities") == 0
        assert await conn.fetchval("SELECT count(*) FROM followers") == 0


@pytest.fixture
async def blog_and_actor(database_url: str) -> Any:
    async with BlogServer(database_url) as blog, Peer(name="hostile") as peer:
        yield blog, peer.add_actor("mallory")


@pytest.mark.parametrize(("name", "options", "status", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_bad_signatures_are_refused(
    blog_and_actor: tuple[BlogServer, PeerActor], name: str, options: dict[str, Any], status: int,
    reason: str,
) -> None:
    blog, mallory = blog_and_actor
    response = await mallory.post(blog.inbox, mallory.follow(blog.actor), **options)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]
    await _stored_nothing(blog)


async def test_bad_bodies_are_refused(blog_and_actor: tuple[BlogServer, PeerActor]) -> None:
    blog, mallory = blog_and_actor
    follow = mallory.follow(blog.actor)
    cases: list[tuple[bytes, int, str]] = [
        (b"not json at all", 400, "not JSON"),
        (b"[1, 2, 3]", 400, "not an activity"),
        (json.dumps({"type": "Follow", "actor": mallory.id}).encode(), 400, "id"),
        (json.dumps({**follow, "actor": {"weird": True}}).encode(), 400, "actor"),
        (json.dumps({**follow, "content": "a\u0000b"}).encode(), 400, "NUL"),
        (b"\xff\xfe\x00garbage", 400, "not JSON"),
    ]
    for body, status, reason in cases:
        response = await mallory.post(blog.inbox, follow, tamper=_replace_body_signed(mallory, blog, body))
        assert response.status_code == status, (body[:40], response.text)
        assert reason in response.json()["error"], response.text
    await _stored_nothing(blog)


def _replace_body_signed(actor: PeerActor, blog: BlogServer, body: bytes) -> Tamper:
    """Sign the replacement body properly: the body itself is what is bad, not the signature."""

    def tamper(headers: dict[str, str], _: bytes) -> tuple[dict[str, str], bytes]:
        signed = sign_request(actor.secret, "cavage", method="POST", url=blog.inbox, body=body)
        return {**signed, "Content-Type": "application/activity+json"}, body

    return tamper


async def test_oversized_body_is_refused_before_reading_it(
    blog_and_actor: tuple[BlogServer, PeerActor],
) -> None:
    blog, mallory = blog_and_actor
    big = {**mallory.follow(blog.actor), "padding": "x" * (2 * 1024 * 1024)}
    response = await mallory.post(blog.inbox, big)
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]
    await _stored_nothing(blog)


async def test_signer_must_be_the_actor(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        alice, mallory = peer.add_actor("alice"), peer.add_actor("mallory")
        forged = alice.follow(blog.actor)
        response = await mallory.post(blog.inbox, forged)
        assert response.status_code == 401
        assert "actor" in response.json()["error"]
        await _stored_nothing(blog)


async def test_same_activity_twice_is_processed_once(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        alice = peer.add_actor("alice")
        follow = alice.follow(blog.actor)
        first = await alice.post(blog.inbox, follow)
        second = await alice.post(blog.inbox, follow)
        assert (first.status_code, second.status_code) == (202, 202)
        assert second.json()["status"] == "duplicate"
        await peer.wait_for("Accept")
        await blog.wait_until("SELECT count(*) FROM inbox_activities WHERE state = 'processed'",
                              expect=1)
        assert len(peer.accepted("Accept")) == 1


async def test_key_rotation_is_picked_up_with_one_refetch(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        alice = peer.add_actor("alice")
        assert (await alice.post(blog.inbox, alice.follow(blog.actor))).status_code == 202
        await peer.wait_for("Accept")
        alice.rotate_key()
        # The blog re-fetches a key at most once a minute; pretend the minute has passed.
        blog.services.keyring.refresh_interval = 0
        response = await alice.post(blog.inbox, alice.follow(blog.actor))
        assert response.status_code == 202, response.text


async def test_json_that_postgresql_cannot_store_is_refused(
    blog_and_actor: tuple[BlogServer, PeerActor],
) -> None:
    blog, mallory = blog_and_actor
    follow = mallory.follow(blog.actor)
    text = json.dumps(follow)
    for body in (text[:-1] + ', "n": NaN}', text[:-1] + ', "n": Infinity}',
                 text[:-1] + ', "s": "\\ud800"}'):
        response = await mallory.post(blog.inbox, follow,
                                      tamper=_replace_body_signed(mallory, blog, body.encode()))
        assert response.status_code == 400, (body[-20:], response.text)
    await _stored_nothing(blog)
