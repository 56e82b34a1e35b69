"""What the inbox trusts (issue 14): the host a request was signed for, the blog's own
activities coming back from outside, hostile key documents, and the order of the checks.

Over real HTTP: the blog server, Mastodon-shaped peers signing with bovine, and a raw actor
host serving byte-exact hostile documents.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from bovine.crypto import generate_rsa_public_private_key
from bovine.crypto.types import CryptographicSecret

from tests.faults.servers import ActorHost
from tests.harness import BlogServer
from tests.peers.peer import Peer
from tests.peers.signatures import sign_request

_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "accept-encoding",
               "user-agent"}


async def _count(blog: BlogServer, query: str, *args: Any) -> int:
    async with blog.services.runtime.db.connection() as conn:
        value: int = await conn.fetchval(query, *args)
        return value


# --- replays across hosts ----------------------------------------------------------------


async def test_a_request_signed_for_another_host_is_refused(database_url: str) -> None:
    """A follower's server holds requests signed for itself (Host: its own name). The same
    path on our host must not verify: the signed Host is not ours."""
    async with BlogServer(database_url) as blog, Peer(name="follower") as peer:
        mallory = peer.add_actor("mallory")
        follow = mallory.follow(blog.actor)
        body = json.dumps(follow).encode()
        elsewhere = blog.inbox.replace(blog.settings.domain, peer.host)
        headers = sign_request(mallory.secret, "cavage", method="POST", url=elsewhere, body=body)
        assert headers["Host"] == peer.host
        response = await peer.client.post(blog.inbox, content=body, headers={
            **headers, "Content-Type": "application/activity+json"})
        assert response.status_code == 401, response.text
        assert "wrong_host" in response.json()["error"]
        # RFC 9421: the covered @target-uri is rebuilt from our own public URL, so a request
        # signed for the other host's URL does not verify either.
        headers = sign_request(mallory.secret, "rfc9421", method="POST", url=elsewhere, body=body)
        response = await peer.client.post(blog.inbox, content=body, headers={
            **headers, "Content-Type": "application/activity+json"})
        assert response.status_code == 401, response.text
        assert await _count(blog, "SELECT count(*) FROM inbox_activities") == 0
        # Signed for us, the same request is taken.
        assert (await mallory.post(blog.inbox, follow)).status_code == 202


async def test_the_blogs_own_update_replayed_by_a_follower_is_refused(database_url: str) -> None:
    """The blog signs each delivery for the follower's host; the follower replays it to the
    blog's shared inbox (same path, /inbox). Before issue 14 this verified (the blog fetched
    its own key) and the Update rewrote the post."""
    async with BlogServer(database_url) as blog, Peer(name="follower") as peer:
        alice = peer.add_actor("alice")
        assert (await alice.post(blog.inbox, alice.follow(blog.actor))).status_code == 202
        await peer.wait_for("Accept")
        post = await blog.post("Original text")
        edited = await blog.api.patch(f"/api/v1/posts/{post['id']}", json={"markdown": "Edited"})
        assert edited.status_code == 200, edited.text
        [update] = await peer.wait_for("Update")
        assert update.signature_valid and update.path == "/inbox", update.summary()
        headers = {k: v for k, v in update.headers.items() if k not in _HOP_BY_HOP}
        response = await peer.client.post(f"{blog.base_url}/inbox", content=update.body,
                                          headers=headers)
        assert response.status_code in (401, 403), response.text
        assert "wrong_host" in response.json()["error"]
        # Even signed for our host (as a follower could not, but a leaked key could), the
        # blog's own key is never taken from outside.
        refused = await peer.client.post(f"{blog.base_url}/inbox", content=update.body,
                                         headers={**headers, "host": blog.settings.domain})
        assert refused.status_code in (401, 403), refused.text
        assert await _count(blog, "SELECT count(*) FROM inbox_activities") == 1  # the Follow


async def test_an_activity_whose_actor_is_the_blog_is_refused(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        mallory = peer.add_actor("mallory")
        for own in (blog.actor, f"{blog.base_url}/actor"):
            forged = {**mallory.follow(blog.actor), "actor": own,
                      "id": f"{own}/follows/forged"}
            response = await mallory.post(blog.inbox, forged)
            assert response.status_code == 403, response.text
            assert "own_actor" in response.json()["error"]
        assert await _count(blog, "SELECT count(*) FROM inbox_activities") == 0


# --- checks before the key fetch ---------------------------------------------------------


@pytest.mark.parametrize(("options", "reason"), [
    ({"date_offset": -3 * 3600}, "date_outside_window"),
    ({"tamper": lambda h, b: (h, b.replace(b"Follow", b"Flollow"))}, "digest_mismatch"),
    ({"scheme": "rfc9421", "date_offset": -3 * 3600}, "created_outside_window"),
], ids=["stale date", "digest mismatch", "rfc9421 stale created"])
async def test_what_needs_no_key_is_checked_before_fetching_one(
    database_url: str, options: dict[str, Any], reason: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        mallory = peer.add_actor("mallory")
        response = await mallory.post(blog.inbox, mallory.follow(blog.actor), **options)
        assert response.status_code == 401, response.text
        assert reason in response.json()["error"]
        assert [f.path for f in peer.fetches] == []  # the key was never fetched


async def test_a_fetched_actor_is_stored_only_after_its_signature_verified(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        alice, mallory = peer.add_actor("alice"), peer.add_actor("mallory")
        follow = alice.follow(blog.actor)
        body = json.dumps(follow).encode()
        # Mallory's key, alice's keyId: the signature cannot verify with alice's key.
        forged = CryptographicSecret.from_pem(alice.main_key_id, mallory.private_key_pem)
        headers = sign_request(forged, "cavage", method="POST", url=blog.inbox, body=body)
        response = await peer.client.post(blog.inbox, content=body, headers={
            **headers, "Content-Type": "application/activity+json"})
        assert response.status_code == 401, response.text
        assert "signature_mismatch" in response.json()["error"]
        assert await _count(blog, "SELECT count(*) FROM remote_actors") == 0
        assert await _count(blog, "SELECT count(*) FROM remote_keys") == 0
        assert (await alice.post(blog.inbox, follow)).status_code == 202
        assert await _count(blog, "SELECT count(*) FROM remote_keys WHERE actor_id = $1",
                            alice.id) == 1


# --- hostile key documents ---------------------------------------------------------------

DEEP = b"[" * 50_000 + b"]" * 50_000
HOSTILE_VALUES: list[tuple[str, bytes]] = [
    ("NaN", b"NaN"),
    ("1e999", b"1e999"),
    ("1e999999", b"1e999999"),
    ("NUL", b'"a\\u0000b"'),
    ("lone surrogate", b'"\\ud800"'),
    ("50k-deep nesting", DEEP),
]


class HostileActorHost(ActorHost):
    """An actor document with a real key, plus one hostile value; counts document GETs."""

    def __init__(self, public_key_pem: str, poison: bytes) -> None:
        super().__init__(public_key_pem)
        self.poison = poison
        self.gets = 0

    def document(self, name: str) -> bytes:
        self.gets += 1
        good = super().document(name)
        return good[:-1] + b', "poison": ' + self.poison + b"}"


@pytest.mark.parametrize("poison", [v for _, v in HOSTILE_VALUES],
                         ids=[n for n, _ in HOSTILE_VALUES])
async def test_hostile_key_documents_are_unknown_keys_and_not_fetched_again(
    database_url: str, poison: bytes,
) -> None:
    public_pem, private_pem = generate_rsa_public_private_key()
    async with BlogServer(database_url) as blog, HostileActorHost(public_pem, poison) as host:
        actor = host.actor_id("mallory")
        secret = CryptographicSecret.from_pem(f"{actor}#main-key", private_pem)
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(2):
                follow = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow",
                          "id": f"{actor}/follows/{attempt}", "actor": actor,
                          "object": blog.actor}
                body = json.dumps(follow).encode()
                headers = sign_request(secret, "cavage", method="POST", url=blog.inbox, body=body)
                response = await client.post(blog.inbox, content=body, headers={
                    **headers, "Content-Type": "application/activity+json"})
                assert response.status_code == 401, response.text
                assert "unknown_key" in response.json()["error"]
        assert host.gets == 1  # the second request was refused from the negative cache
        assert await _count(blog, "SELECT count(*) FROM remote_actors") == 0


async def test_a_made_up_key_fragment_does_not_lock_out_the_real_key(database_url: str) -> None:
    """The negative cache is per key for a missing key, per document only for a hostile one:
    a stranger naming `alice#nope` must not get alice's real key refused for five minutes."""
    async with BlogServer(database_url) as blog, Peer() as peer:
        alice, mallory = peer.add_actor("alice"), peer.add_actor("mallory")
        follow = alice.follow(blog.actor)
        body = json.dumps(follow).encode()
        bogus = CryptographicSecret.from_pem(f"{alice.id}#nope", mallory.private_key_pem)
        headers = sign_request(bogus, "cavage", method="POST", url=blog.inbox, body=body)
        for _ in range(2):
            response = await peer.client.post(blog.inbox, content=body, headers={
                **headers, "Content-Type": "application/activity+json"})
            assert response.status_code == 401 and "unknown_key" in response.text
        assert len([f for f in peer.fetches if f.path == "/users/alice"]) == 1
        assert (await alice.post(blog.inbox, follow)).status_code == 202


# --- hostile signed bodies ---------------------------------------------------------------


async def test_hostile_values_in_a_signed_body_are_400(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        mallory = peer.add_actor("mallory")
        note = mallory.create_note(in_reply_to=None, content="hej")
        text = json.dumps(note).encode()
        bodies: list[tuple[str, bytes]] = [
            (name, text[:-1] + b', "poison": ' + value + b"}") for name, value in HOSTILE_VALUES
        ]
        for name, date in [("year 0001 +05:00", "0001-01-01T00:00:00+05:00"),
                           ("year 9999 -05:00", "9999-12-31T23:00:00-05:00")]:
            dated = {**note, "published": date}
            bodies.append((f"activity {name}", json.dumps(dated).encode()))
            dated = {**note, "object": {**note["object"], "updated": date}}
            bodies.append((f"object {name}", json.dumps(dated).encode()))
        for name, body in bodies:
            headers = sign_request(mallory.secret, "cavage", method="POST", url=blog.inbox,
                                   body=body)
            response = await peer.client.post(blog.inbox, content=body, headers={
                **headers, "Content-Type": "application/activity+json"})
            assert response.status_code == 400, (name, response.text)
        await asyncio.sleep(0)
        assert await _count(blog, "SELECT count(*) FROM inbox_activities") == 0


# --- the pure parts ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", [v for _, v in HOSTILE_VALUES], ids=[n for n, _ in HOSTILE_VALUES])
def test_check_json_document_refuses_each_hostile_value(raw: bytes) -> None:
    from fedblog.federation.vocab import VocabError, check_json_document

    try:
        document = json.loads(b'{"a": [' + raw + b"]}")
    except RecursionError:
        return  # the fetch turns this one into a VocabError itself (keyring.fetch_document)
    with pytest.raises(VocabError):
        check_json_document(document)
    check_json_document({"a": [1.5, "ok", {"b": None}], "c": True})  # ordinary JSON passes


def test_dates_outside_the_calendar_are_refused_unparsable_ones_ignored() -> None:
    from fedblog.federation.vocab import VocabError, parse_activity

    like = {"id": "https://m.example/l/1", "type": "Like", "actor": "https://m.example/u/a",
            "object": "https://blog.example/posts/1"}
    assert parse_activity({**like, "published": "yesterday"}).published is None
    assert parse_activity({**like, "published": "0001-01-01T00:00:00-05:00"}).published
    for date in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        with pytest.raises(VocabError, match="outside the calendar"):
            parse_activity({**like, "published": date})
        with pytest.raises(VocabError, match="object.updated"):
            parse_activity({**like, "object": {"id": "https://m.example/s/1", "type": "Note",
                                               "updated": date}})
