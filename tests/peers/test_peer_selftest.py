"""Self-tests of the test peer: two peers on 127.0.0.1 talking to each other over real HTTP,
signing with bovine / http_message_signatures and verifying each other's keys fetched over
HTTP. No fedblog code is involved."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from bovine.crypto.helper import content_digest_sha256

from tests.peers import AS_PUBLIC, Peer, PeerActor

SCHEMES = ["cavage", "rfc9421"]


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Peer, Peer]]:
    async with Peer(name="a") as a, Peer(name="b") as b:
        yield a, b


def _actors(pair: tuple[Peer, Peer], key_type: str = "rsa") -> tuple[PeerActor, PeerActor]:
    a, b = pair
    return a.add_actor("alice", key_type=key_type), b.add_actor("bob")  # type: ignore[arg-type]


@pytest.mark.parametrize("key_type", ["rsa", "ed25519"])
@pytest.mark.parametrize("scheme", SCHEMES)
async def test_signed_follow_verifies_after_fetching_key(
    pair: tuple[Peer, Peer], scheme: str, key_type: str
) -> None:
    a, b = pair
    alice, bob = _actors(pair, key_type)
    follow = alice.follow(bob.id)

    response = await alice.post(bob.inbox, follow, scheme=scheme)  # type: ignore[arg-type]

    assert response.status_code == 202
    [got] = await b.wait_for(lambda r: r.type == "Follow", timeout=3)
    assert got.signature_valid, got.error
    assert got.error is None
    assert got.scheme == scheme
    assert got.signer_key_id == alice.key_id
    assert got.signer == alice.id
    assert got.path == "/users/bob/inbox"
    assert got.activity == follow and got.actor == alice.id and got.object_id == bob.id
    assert got.headers["content-type"] == "application/activity+json"
    if scheme == "cavage":
        assert got.covered == ["(request-target)", "host", "date", "digest"]
        assert 'algorithm="rsa-sha256"' in got.headers["signature"] or key_type == "ed25519"
    else:
        assert got.covered == ["@method", "@target-uri", "content-digest"]
        assert got.headers["signature-input"].startswith('sig1=("@method" "@target-uri"')
    # the key really came over HTTP from A: an unsigned GET of alice's actor document
    assert [(k.url, k.status, k.signed) for k in b.key_fetches] == [(alice.id, 200, False)]
    assert [(f.path, f.signed) for f in a.fetches] == [("/users/alice", False)]


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_tampered_body_is_recorded_invalid(pair: tuple[Peer, Peer], scheme: str) -> None:
    _, b = pair
    alice, bob = _actors(pair)

    def swap_object(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return headers, body.replace(b'"Follow"', b'"Block"')

    response = await alice.post(bob.inbox, alice.follow(bob.id), scheme=scheme, tamper=swap_object)  # type: ignore[arg-type]

    assert response.status_code == 202  # recorded, not rejected
    [got] = await b.wait_for("Block", timeout=3)
    assert got.signature_valid is False
    assert got.error and "digest" in got.error.lower(), got.error
    assert got.signer_key_id == alice.key_id


async def test_tampered_body_with_recomputed_digest_fails_the_signature(
    pair: tuple[Peer, Peer],
) -> None:
    _, b = pair
    alice, bob = _actors(pair)

    def forge(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        body = body.replace(b'"Follow"', b'"Block"')
        return {**headers, "Digest": content_digest_sha256(body)}, body

    await alice.post(bob.inbox, alice.follow(bob.id), tamper=forge)

    [got] = await b.wait_for("Block", timeout=3)
    assert got.signature_valid is False
    assert got.error and "does not verify" in got.error, got.error


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_unsigned_and_stale_posts_are_invalid(pair: tuple[Peer, Peer], scheme: str) -> None:
    _, b = pair
    alice, bob = _actors(pair)

    await alice.post(b.shared_inbox, alice.follow(bob.id), sign=False)
    await alice.post(bob.inbox, alice.like(bob.id), scheme=scheme, date_offset=-3600)  # type: ignore[arg-type]

    unsigned, stale = await b.wait_for(lambda r: True, count=2, timeout=3)
    assert (unsigned.path, unsigned.type) == ("/inbox", "Follow")
    assert unsigned.signature_valid is False and unsigned.scheme is None
    assert unsigned.error == "request carries no Signature header"
    assert stale.type == "Like" and stale.signature_valid is False and stale.scheme == scheme
    assert stale.error and ("Date" in stale.error or "age" in stale.error), stale.error


async def test_fail_with_answers_status_and_records_not_accepted(pair: tuple[Peer, Peer]) -> None:
    _, b = pair
    alice, bob = _actors(pair)
    b.fail_with = 500

    response = await alice.post(bob.inbox, alice.follow(bob.id))

    assert response.status_code == 500
    [got] = b.received
    assert got.accepted is False and got.status == 500
    assert got.signature_valid, got.error  # still verified
    assert b.accepted() == []

    b.fail_with, b.retry_after = 429, "7"
    response = await alice.post(bob.inbox, alice.follow(bob.id))
    assert response.status_code == 429 and response.headers["retry-after"] == "7"

    b.fail_with = None
    response = await alice.post(bob.inbox, alice.follow(bob.id))
    assert response.status_code == 202
    assert [r.status for r in b.received] == [500, 429, 202]
    assert len(b.accepted("Follow")) == 1 and b.accepted("Like") == []


async def test_fail_with_constructor_argument_and_delay() -> None:
    async with Peer(name="slow", fail_with=410) as slow, Peer(name="sender") as sender:
        bob = slow.add_actor("bob")
        alice = sender.add_actor("alice")
        assert (await alice.post(bob.inbox, alice.follow(bob.id))).status_code == 410
        slow.fail_with, slow.delay = None, 0.15
        started = time.monotonic()
        assert (await alice.post(bob.inbox, alice.follow(bob.id))).status_code == 202
        assert time.monotonic() - started >= 0.15
        assert [r.accepted for r in slow.received] == [False, True]
        # a sender that gives up before the delayed answer: recorded, but not accepted
        with pytest.raises(httpx.ReadTimeout):
            await alice.post(bob.inbox, alice.like(bob.id), timeout=0.05)
        [like] = await slow.wait_for("Like", timeout=1, include_rejected=True)
        assert like.disconnected and not like.accepted and like.signature_valid
        # an inbox of an actor the peer does not have
        slow.delay = 0
        response = await alice.post(slow.url("/users/nobody/inbox"), alice.follow(bob.id))
        assert response.status_code == 404
        assert slow.received[-1].accepted is False and "nobody" in (slow.received[-1].error or "")


async def test_wait_for_times_out_with_a_useful_message(pair: tuple[Peer, Peer]) -> None:
    _, b = pair
    alice, bob = _actors(pair)
    follow = alice.follow(bob.id)
    await alice.post(bob.inbox, follow)

    with pytest.raises(AssertionError) as excinfo:
        await b.wait_for(lambda r: r.type == "Like", timeout=0.1)

    message = str(excinfo.value)
    assert "expected 1 accepted POST(s)" in message and "got 0" in message
    assert "type=Follow" in message and follow["id"] in message
    assert "signature_valid=True" in message
    with pytest.raises(AssertionError, match="expected no POST"):
        await b.assert_nothing("Follow", within=0.05)


async def test_key_fetch_retries_signed_after_401(pair: tuple[Peer, Peer]) -> None:
    a, b = pair
    alice, bob = _actors(pair)
    a.require_signed_actor_fetch = True  # A behaves like a strict authorized-fetch server

    await alice.post(bob.inbox, alice.follow(bob.id), scheme="rfc9421")

    [got] = await b.wait_for("Follow", timeout=3)
    assert got.signature_valid, got.error
    [key_fetch] = b.key_fetches
    assert (key_fetch.first_status, key_fetch.status, key_fetch.signed) == (401, 200, True)
    unsigned, signed = a.fetches
    assert (unsigned.path, unsigned.status, unsigned.signed) == ("/users/alice", 401, False)
    assert (signed.path, signed.status, signed.signed, signed.signature_valid) == (
        "/users/alice",
        200,
        True,
        True,
    )
    assert signed.signer_key_id == bob.key_id  # B signed its key fetch as its own actor


async def test_documents_webfinger_and_published_notes(pair: tuple[Peer, Peer]) -> None:
    _, b = pair
    alice, bob = _actors(pair)
    create = bob.create_note(in_reply_to=None, content="<p>hello</p>", mention=alice.id)
    note = create["object"]
    assert create["to"] == [AS_PUBLIC] and create["cc"] == [bob.followers, alice.id]
    assert note["attributedTo"] == bob.id and note["contentMap"] == {"en": "<p>hello</p>"}
    assert note["tag"][0]["type"] == "Mention" and note["tag"][0]["href"] == alice.id

    async with httpx.AsyncClient() as http:
        wf = await http.get(
            f"{b.base_url}/.well-known/webfinger", params={"resource": f"acct:bob@{b.host}"}
        )
        assert wf.status_code == 200
        assert wf.headers["content-type"].startswith("application/jrd+json")
        [self_link] = [link for link in wf.json()["links"] if link["rel"] == "self"]
        assert self_link == {"rel": "self", "type": "application/activity+json", "href": bob.id}

        doc = await http.get(bob.id)
        assert doc.headers["content-type"].startswith("application/activity+json")
        person = doc.json()
        assert person["type"] == "Person" and person["preferredUsername"] == "bob"
        assert person["inbox"] == bob.inbox and person["endpoints"]["sharedInbox"] == b.shared_inbox
        assert person["publicKey"]["id"] == f"{bob.id}#main-key"
        assert person["publicKey"]["owner"] == bob.id
        assert "BEGIN PUBLIC KEY" in person["publicKey"]["publicKeyPem"]

        assert (await http.get(b.url("/users/nobody"))).status_code == 404

    # a signed GET of the published note from A's actor: checked before answering
    response = await alice.get(note["id"])
    assert response.status_code == 200 and response.json()["id"] == note["id"]
    fetch = b.fetches[-1]
    assert fetch.path == urlsplit(note["id"]).path and fetch.status == 200
    assert fetch.signed and fetch.signature_valid, fetch.error
    assert fetch.signer_key_id == alice.key_id and fetch.scheme == "cavage"
    # a signed GET of an actor document: checked after answering
    assert (await alice.get(bob.id, scheme="rfc9421")).status_code == 200
    [actor_fetch] = await b.wait_for_fetch(lambda f: f.path == "/users/bob" and f.signed)
    assert actor_fetch.signature_valid and actor_fetch.scheme == "rfc9421", actor_fetch.error

    # authorized fetch: unsigned GETs of objects are refused, signed ones served
    b.require_signed_fetch = True
    async with httpx.AsyncClient() as http:
        assert (await http.get(note["id"])).status_code == 401
    assert (await alice.get(note["id"], scheme="rfc9421")).status_code == 200

    b.unpublish(note["id"])
    assert (await alice.get(note["id"])).status_code == 410
    assert json.loads((await alice.get(create["id"])).content)["type"] == "Create"
