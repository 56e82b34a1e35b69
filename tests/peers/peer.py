"""A real remote fediverse server for end-to-end tests.

``Peer`` is one host (``127.0.0.1:<port>``, real HTTP via uvicorn, running inside the test's
event loop) with one or more Mastodon-shaped actors. It signs what it sends with ``bovine``
(draft-cavage) or ``http_message_signatures`` (RFC 9421) and verifies *every* request it gets
with the same libraries, fetching the sender's key over HTTP -- see ``signatures.py``. It never
imports ``fedblog``: it is the independent implementation the blog has to interoperate with.

Typical use::

    async with Peer(name="mastodon") as peer:
        alice = peer.add_actor("alice")
        await alice.post(blog_inbox, alice.follow(blog_actor_id))
        [accept] = await peer.wait_for(lambda r: r.type == "Accept")
        assert accept.signature_valid, accept.error

Inbox POSTs are verified and *recorded*, never rejected (answer 202), so tests assert on
``Received.signature_valid``. Fault injection (``fail_with``, ``retry_after``, ``delay``) can be
switched at any time; each POST reads the settings current when it arrives.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import functools
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self, cast
from urllib.parse import urlsplit

import httpx
import uvicorn
from bovine.crypto import generate_ed25519_private_key, generate_rsa_public_private_key
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret
from bovine.utils import webfinger_response_json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .signatures import (
    KeyFetchError,
    Scheme,
    Verification,
    identifier_from_document,
    sign_request,
    verify_request,
)

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
LD_JSON_AS = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
FETCH_ACCEPT = f"{ACTIVITY_JSON}, {LD_JSON_AS}"

#: The @context Mastodon puts on actors.
ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    "https://w3id.org/security/v1",
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "indexable": "toot:indexable",
        "Ed25519Key": "toot:Ed25519Key",
    },
]
#: The (trimmed) @context Mastodon puts on activities.
ACTIVITY_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "ostatus": "http://ostatus.org#",
        "atomUri": "ostatus:atomUri",
        "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "toot": "http://joinmastodon.org/ns#",
    },
]

Predicate = Callable[["Received"], bool]


def _now_iso() -> str:
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strip_context(activity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in activity.items() if k != "@context"}


# ============================================================================ records


@dataclass
class Received:
    """One POST to an inbox of the peer (``/inbox`` or ``/users/<name>/inbox``)."""

    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    activity: dict[str, Any] | None  # JSON-decoded body, None if it was not a JSON object
    signature_valid: bool
    signer_key_id: str | None  # keyId / keyid the request claimed, even if it did not verify
    error: str | None  # why verification failed (None when valid)
    accepted: bool  # answered 2xx and the sender was still there to see it
    status: int = 202  # what the peer answered
    scheme: Scheme | None = None  # "cavage" / "rfc9421" / None when unsigned
    signer: str | None = None  # owner/controller of the key, set when the signature verified
    covered: list[str] = field(default_factory=list)  # signed headers / components
    disconnected: bool = False  # the sender hung up before the (delayed) answer
    at: float = 0.0  # time.time() of arrival
    seq: int = field(default=0, repr=False)

    @property
    def type(self) -> str | None:
        if isinstance(self.activity, dict):
            t = self.activity.get("type")
            return t if isinstance(t, str) else None
        return None

    @property
    def actor(self) -> str | None:
        """The activity's ``actor`` id (or ``actor.id`` when embedded)."""
        if not isinstance(self.activity, dict):
            return None
        a = self.activity.get("actor")
        if isinstance(a, dict):
            a = a.get("id")
        return a if isinstance(a, str) else None

    @property
    def object(self) -> Any:
        return self.activity.get("object") if isinstance(self.activity, dict) else None

    @property
    def object_id(self) -> str | None:
        o = self.object
        if isinstance(o, dict):
            o = o.get("id")
        return o if isinstance(o, str) else None

    def summary(self) -> str:
        act = self.activity or {}
        obj = act.get("object")
        obj_desc = obj.get("type") if isinstance(obj, dict) else obj
        return (
            f"#{self.seq} POST {self.path} -> {self.status} type={self.type} id={act.get('id')} "
            f"actor={self.actor} object={obj_desc} accepted={self.accepted} "
            f"signature_valid={self.signature_valid} scheme={self.scheme} "
            f"key={self.signer_key_id} error={self.error}"
        )


@dataclass
class FetchRecord:
    """One GET the peer served (any path)."""

    path: str
    signed: bool  # carried Signature / Signature-Input
    signature_valid: bool | None  # None when unsigned
    status: int = 200
    query: str = ""
    accept: str | None = None
    signer_key_id: str | None = None
    signer: str | None = None
    scheme: Scheme | None = None
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    at: float = 0.0
    seq: int = field(default=0, repr=False)

    def summary(self) -> str:
        q = f"?{self.query}" if self.query else ""
        return (
            f"#{self.seq} GET {self.path}{q} -> {self.status} signed={self.signed} "
            f"valid={self.signature_valid} key={self.signer_key_id} error={self.error}"
        )


@dataclass
class KeyFetch:
    """One key fetch the peer made to verify a signature (to the sender's server)."""

    key_id: str
    url: str
    status: int | None  # final HTTP status (None on connection error)
    signed: bool  # the final attempt was a signed GET (after a 401)
    first_status: int | None = None  # status of the unsigned attempt
    error: str | None = None


# ============================================================================ actors


class PeerActor:
    """A Mastodon-like Person on a Peer. URLs are derived from the peer's address, so an
    actor may be added before ``start()``; they are only meaningful once the peer runs."""

    def __init__(
        self, peer: Peer, username: str, *, key_type: Literal["rsa", "ed25519"] = "rsa"
    ) -> None:
        self.peer = peer
        self.username = username
        self.display_name = f"{username.capitalize()} ({peer.name})"
        self.summary = f"<p>Test actor {username} on {peer.name}</p>"
        self.key_type = key_type
        self.gone = False  # when True, GET of the actor answers 410 Gone
        self.extra: dict[str, Any] = {}  # merged into document() last; None values delete keys
        self.follower_ids: list[str] = []  # items of the followers collection
        self.following_ids: list[str] = []
        self.published = _now_iso()
        # Every actor has an RSA main-key (publicKey, used for cavage by Mastodon).
        self.public_key_pem, self.private_key_pem = generate_rsa_public_private_key()
        self._ed25519_multibase: str | None = None
        self._secret_cache: tuple[str, str, CryptographicSecret] | None = None
        if key_type == "ed25519":
            # FEP-521a: an additional Ed25519 Multikey in assertionMethod; requests are then
            # signed with it (keyId "<actor>#ed25519-key").
            self._ed25519_multibase = generate_ed25519_private_key()
        self._counter = itertools.count(1)

    # ---- URLs
    @property
    def id(self) -> str:
        return f"{self.peer.base_url}/users/{self.username}"

    @property
    def inbox(self) -> str:
        return f"{self.id}/inbox"

    @property
    def outbox(self) -> str:
        return f"{self.id}/outbox"

    @property
    def followers(self) -> str:
        return f"{self.id}/followers"

    @property
    def following(self) -> str:
        return f"{self.id}/following"

    @property
    def shared_inbox(self) -> str:
        return self.peer.shared_inbox

    @property
    def url(self) -> str:
        return f"{self.peer.base_url}/@{self.username}"

    @property
    def handle(self) -> str:
        """``username@127.0.0.1:PORT`` (webfinger acct without the scheme)."""
        return f"{self.username}@{self.peer.host}"

    @property
    def main_key_id(self) -> str:
        return f"{self.id}#main-key"

    @property
    def ed25519_key_id(self) -> str | None:
        return f"{self.id}#ed25519-key" if self._ed25519_multibase else None

    @property
    def key_id(self) -> str:
        """The keyId this actor signs requests with."""
        return self.ed25519_key_id or self.main_key_id

    @property
    def secret(self) -> CryptographicSecret:
        """bovine CryptographicSecret for ``key_id`` (cached: loading an RSA PEM is slow)."""
        material = self._ed25519_multibase or self.private_key_pem
        cached = self._secret_cache
        if cached is not None and cached[0] == self.key_id and cached[1] == material:
            return cached[2]
        if self._ed25519_multibase is not None:
            secret = CryptographicSecret.from_multibase(self.key_id, self._ed25519_multibase)
        else:
            secret = CryptographicSecret.from_pem(self.key_id, self.private_key_pem)
        self._secret_cache = (self.key_id, material, cast(CryptographicSecret, secret))
        return self._secret_cache[2]

    def rotate_key(self) -> None:
        """Generate a new RSA main-key (same key id), e.g. to test key refresh."""
        self.public_key_pem, self.private_key_pem = generate_rsa_public_private_key()

    # ---- document
    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@context": ACTOR_CONTEXT,
            "id": self.id,
            "type": "Person",
            "following": self.following,
            "followers": self.followers,
            "inbox": self.inbox,
            "outbox": self.outbox,
            "preferredUsername": self.username,
            "name": self.display_name,
            "summary": self.summary,
            "url": self.url,
            "manuallyApprovesFollowers": False,
            "discoverable": True,
            "indexable": True,
            "published": self.published,
            "publicKey": {
                "id": self.main_key_id,
                "owner": self.id,
                "publicKeyPem": self.public_key_pem,
            },
            "tag": [],
            "attachment": [],
            "endpoints": {"sharedInbox": self.shared_inbox},
        }
        if self._ed25519_multibase is not None:
            _, multibase = CryptographicIdentifier(
                controller=self.id, public_key=self.secret.private_key.public_key()
            ).as_tuple()
            doc["@context"] = [*ACTOR_CONTEXT, "https://w3id.org/security/multikey/v1"]
            doc["assertionMethod"] = [
                {
                    "id": self.ed25519_key_id,
                    "type": "Multikey",
                    "controller": self.id,
                    "publicKeyMultibase": multibase,
                }
            ]
        for k, v in self.extra.items():
            if v is None:
                doc.pop(k, None)
            else:
                doc[k] = v
        return doc

    # ---- HTTP
    async def post(
        self,
        url: str,
        activity: dict[str, Any],
        *,
        scheme: Scheme = "cavage",
        tamper: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]] | None = None,
        sign: bool = True,
        date_offset: float = 0.0,
        content_type: str = ACTIVITY_JSON,
        timeout: float | None = None,
    ) -> httpx.Response:
        """POST ``activity`` as JSON, signed by this actor (bovine cavage or RFC 9421).
        ``tamper(headers, body)`` runs after signing; ``sign=False`` sends no signature
        (Date and digest headers are still sent); ``date_offset`` shifts Date / created."""
        body = json.dumps(activity).encode("utf-8")
        headers = sign_request(
            self.secret, scheme, method="POST", url=url, body=body, date_offset=date_offset
        )
        headers["Content-Type"] = content_type
        headers["User-Agent"] = f"fedblog-test-peer ({self.peer.name}; +{self.peer.base_url}/)"
        if not sign:
            for name in ("Signature", "Signature-Input"):
                headers.pop(name, None)
        if tamper is not None:
            headers, body = tamper(dict(headers), body)
        if timeout is not None:
            return await self.peer.client.post(url, content=body, headers=headers, timeout=timeout)
        return await self.peer.client.post(url, content=body, headers=headers)

    async def get(
        self, url: str, *, accept: str = ACTIVITY_JSON, scheme: Scheme = "cavage", sign: bool = True
    ) -> httpx.Response:
        """Signed GET (cavage: ``(request-target) host date accept``; RFC 9421:
        ``"@method" "@target-uri"``)."""
        headers = sign_request(self.secret, scheme, method="GET", url=url, accept=accept)
        headers["User-Agent"] = f"fedblog-test-peer ({self.peer.name}; +{self.peer.base_url}/)"
        if not sign:
            for name in ("Signature", "Signature-Input"):
                headers.pop(name, None)
        return await self.peer.client.get(url, headers=headers)

    # ---- builders (Mastodon shapes)
    def new_id(self, kind: str = "activities") -> str:
        return f"{self.id}/{kind}/{next(self._counter)}{uuid.uuid4().hex[:8]}"

    def follow(self, target_actor: str) -> dict[str, Any]:
        activity = {
            "@context": AS_CONTEXT,
            "id": self.new_id("follows"),
            "type": "Follow",
            "actor": self.id,
            "object": target_actor,
        }
        return self.peer.publish(activity)

    def undo(self, activity: dict[str, Any]) -> dict[str, Any]:
        undo = {
            "@context": AS_CONTEXT,
            "id": f"{activity['id']}/undo",
            "type": "Undo",
            "actor": self.id,
            "object": _strip_context(activity),
        }
        return self.peer.publish(undo)

    def accept(self, activity: dict[str, Any]) -> dict[str, Any]:
        return self.peer.publish(
            {
                "@context": AS_CONTEXT,
                "id": f"{self.id}#accepts/{next(self._counter)}{uuid.uuid4().hex[:8]}",
                "type": "Accept",
                "actor": self.id,
                "object": _strip_context(activity),
            }
        )

    def reject(self, activity: dict[str, Any]) -> dict[str, Any]:
        return self.peer.publish(
            {
                "@context": AS_CONTEXT,
                "id": f"{self.id}#rejects/{next(self._counter)}{uuid.uuid4().hex[:8]}",
                "type": "Reject",
                "actor": self.id,
                "object": _strip_context(activity),
            }
        )

    def note(
        self,
        *,
        in_reply_to: str | None,
        content: str,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        mention: str | None = None,
    ) -> dict[str, Any]:
        """A bare Note (not published; ``create_note`` wraps and publishes)."""
        note_id = self.new_id("statuses")
        to = [AS_PUBLIC] if to is None else list(to)
        cc = [self.followers] if cc is None else list(cc)
        tags: list[dict[str, Any]] = []
        if mention is not None:
            parts = urlsplit(mention)
            tags.append(
                {
                    "type": "Mention",
                    "href": mention,
                    "name": f"@{parts.path.rstrip('/').rsplit('/', 1)[-1]}@{parts.netloc}",
                }
            )
            if mention not in to and mention not in cc:
                cc.append(mention)
        return {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": in_reply_to,
            "published": _now_iso(),
            "url": f"{self.url}/{note_id.rsplit('/', 1)[-1]}",
            "attributedTo": self.id,
            "to": to,
            "cc": cc,
            "sensitive": False,
            "atomUri": note_id,
            "inReplyToAtomUri": in_reply_to,
            "conversation": f"tag:{self.peer.host},{dt.date.today()}:objectId={note_id}",
            "content": content,
            "contentMap": {"en": content},
            "attachment": [],
            "tag": tags,
            "replies": {
                "id": f"{note_id}/replies",
                "type": "Collection",
                "first": {
                    "type": "CollectionPage",
                    "next": f"{note_id}/replies?only_other_accounts=true&page=true",
                    "partOf": f"{note_id}/replies",
                    "items": [],
                },
            },
        }

    def create_note(
        self,
        *,
        in_reply_to: str | None,
        content: str,
        to: list[str] | None = None,
        cc: list[str] | None = None,
        mention: str | None = None,
    ) -> dict[str, Any]:
        """``Create`` of a new Note (to Public, cc followers by default; ``mention`` adds a
        Mention tag and cc). Both the Note and the Create are published: GET of their ids
        on the peer serves them."""
        note = self.note(in_reply_to=in_reply_to, content=content, to=to, cc=cc, mention=mention)
        self.peer.publish({"@context": ACTIVITY_CONTEXT, **note})
        create = {
            "@context": ACTIVITY_CONTEXT,
            "id": f"{note['id']}/activity",
            "type": "Create",
            "actor": self.id,
            "published": note["published"],
            "to": note["to"],
            "cc": note["cc"],
            "object": note,
        }
        return self.peer.publish(create)

    def update_note(self, note: dict[str, Any], *, content: str) -> dict[str, Any]:
        """``Update`` with the note's new content (the published copy is updated too)."""
        note = _strip_context(note.get("object", note) if note.get("type") == "Create" else note)
        updated = {**note, "content": content, "contentMap": {"en": content}, "updated": _now_iso()}
        self.peer.publish({"@context": ACTIVITY_CONTEXT, **updated})
        return self.peer.publish(
            {
                "@context": ACTIVITY_CONTEXT,
                "id": f"{note['id']}#updates/{int(time.time() * 1000)}",
                "type": "Update",
                "actor": self.id,
                "published": updated["updated"],
                "to": note.get("to", [AS_PUBLIC]),
                "cc": note.get("cc", []),
                "object": updated,
            }
        )

    def delete_note(self, note: dict[str, Any]) -> dict[str, Any]:
        """``Delete`` with a Tombstone (Mastodon shape); the object then answers 410."""
        note_id = note["object"]["id"] if note.get("type") == "Create" else note["id"]
        self.peer.unpublish(note_id)
        return {
            "@context": ACTIVITY_CONTEXT,
            "id": f"{note_id}#delete",
            "type": "Delete",
            "actor": self.id,
            "to": [AS_PUBLIC],
            "object": {"id": note_id, "type": "Tombstone", "atomUri": note_id},
        }

    def like(self, object_id: str) -> dict[str, Any]:
        return self.peer.publish(
            {
                "@context": AS_CONTEXT,
                "id": f"{self.id}#likes/{next(self._counter)}{uuid.uuid4().hex[:8]}",
                "type": "Like",
                "actor": self.id,
                "object": object_id,
            }
        )

    def announce(self, object_id: str) -> dict[str, Any]:
        aid = self.new_id("statuses")
        return self.peer.publish(
            {
                "@context": ACTIVITY_CONTEXT,
                "id": f"{aid}/activity",
                "type": "Announce",
                "actor": self.id,
                "published": _now_iso(),
                "to": [AS_PUBLIC],
                "cc": [self.followers],
                "object": object_id,
            }
        )

    def delete_self(self) -> dict[str, Any]:
        """``Delete`` of this actor (the actor then answers 410 Gone)."""
        self.gone = True
        return {
            "@context": AS_CONTEXT,
            "id": f"{self.id}#delete",
            "type": "Delete",
            "actor": self.id,
            "to": [AS_PUBLIC],
            "object": self.id,
        }

    def __repr__(self) -> str:
        return f"<PeerActor {self.username}@{self.peer.name} key={self.key_type}>"


# ============================================================================ the server


class _QuietServer(uvicorn.Server):
    """uvicorn.Server tuned for tests: no process signal handling (we run inside pytest's
    loop), and a shutdown in milliseconds instead of uvicorn's 0.1 s polling steps (the
    suite starts and stops many peers)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # closes idle keep-alive connections, ends busy ones after
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 2)
        state = self.server_state
        while (state.connections or state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.002)
        for task in list(state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()


class Peer:
    """One fediverse host on 127.0.0.1:<free port>. Use ``async with Peer() as peer:``."""

    def __init__(self, *, name: str = "peer", fail_with: int | None = None) -> None:
        self.name = name
        self.actors: dict[str, PeerActor] = {}
        self.received: list[Received] = []
        self.fetches: list[FetchRecord] = []
        self.key_fetches: list[KeyFetch] = []
        #: every object the peer "published", by id; GET of the id serves it
        self.objects: dict[str, dict[str, Any]] = {}
        self.gone_objects: set[str] = set()
        # ---- fault injection / policy, switchable at any time
        self.fail_with: int | None = fail_with
        self.retry_after: str | None = None
        self.delay: float = 0.0
        #: GETs of published objects and collections need a valid signature (else 401)
        self.require_signed_fetch = False
        #: also actor documents need a valid signature (stricter than Mastodon) -- to make
        #: *senders* take the signed key-fetch path
        self.require_signed_actor_fetch = False
        #: cache fetched keys across requests (off: every verification re-fetches the key)
        self.cache_keys = False
        self.key_fetch_timeout = 5.0

        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._seq = itertools.count(1)
        self._key_tasks: dict[str, asyncio.Task[CryptographicIdentifier]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._instance_actor: PeerActor | None = None
        self._changed = asyncio.Event()  # set whenever a record is added
        self.app = Starlette(
            routes=[Route("/{path:path}", self._dispatch, methods=["GET", "HEAD", "POST"])]
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"peer {self.name} already started")
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._serve_task = asyncio.create_task(self._server.serve(), name=f"peer-{self.name}")
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()  # raises the startup error
                raise RuntimeError(f"peer {self.name} exited during startup")
            if time.monotonic() > deadline:
                raise RuntimeError(f"peer {self.name} did not start within 10s")
            await asyncio.sleep(0.005)
        self._port = self._server.servers[0].sockets[0].getsockname()[1]
        self._client = httpx.AsyncClient(timeout=10.0, follow_redirects=False)

    async def stop(self) -> None:
        pending = [*self._background, *self._key_tasks.values()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._background.clear()
        self._key_tasks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            try:
                await asyncio.wait_for(self._serve_task, timeout=5)
            except TimeoutError:  # pragma: no cover
                self._server.force_exit = True
                await asyncio.gather(self._serve_task, return_exceptions=True)
        self._server = None
        self._serve_task = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"peer {self.name} is not started")
        return self._port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError(f"peer {self.name} is not started")
        return self._client

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ------------------------------------------------------------------ actors & objects
    def add_actor(self, username: str, *, key_type: Literal["rsa", "ed25519"] = "rsa") -> PeerActor:
        if username in self.actors:
            raise ValueError(f"actor {username!r} already exists on {self.name}")
        actor = PeerActor(self, username, key_type=key_type)
        self.actors[username] = actor
        return actor

    @property
    def fetch_actor(self) -> PeerActor:
        """Who signs the peer's own key fetches after a 401: its first actor, else an
        instance actor served at ``/actor`` (created on demand)."""
        if self.actors:
            return next(iter(self.actors.values()))
        if self._instance_actor is None:
            self._instance_actor = _InstanceActor(self)
        return self._instance_actor

    def publish(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Serve ``obj`` at its id from now on; returns it unchanged."""
        self.objects[obj["id"]] = obj
        self.gone_objects.discard(obj["id"])
        return obj

    def unpublish(self, object_id: str) -> None:
        """Stop serving an object; GET of its id answers 410 Gone."""
        self.objects.pop(object_id, None)
        self.gone_objects.add(object_id)

    # ------------------------------------------------------------------ assertions
    def accepted(self, type_: str | None = None) -> list[Received]:
        return [r for r in self.received if r.accepted and (type_ is None or r.type == type_)]

    async def wait_for(
        self,
        predicate: Predicate | str,
        *,
        timeout: float = 10.0,
        count: int = 1,
        include_rejected: bool = False,
    ) -> list[Received]:
        """Wait until ``count`` accepted POSTs match ``predicate`` (a callable, or an activity
        type string) and return the first ``count`` of them, in arrival order. On timeout
        raises AssertionError listing everything that did arrive. ``include_rejected``
        also counts POSTs answered with ``fail_with`` / 404 or abandoned by the sender.
        A predicate raising KeyError/TypeError/AttributeError/IndexError counts as no
        match, so ``lambda r: r.activity["object"]["inReplyTo"] == x`` is fine."""
        pred = _as_predicate(predicate)
        deadline = time.monotonic() + timeout
        what = "" if include_rejected else "accepted "
        while True:
            matches = [
                r for r in self.received if (r.accepted or include_rejected) and _safe(pred, r)
            ]
            if len(matches) >= count:
                return matches[:count]
            if time.monotonic() >= deadline:
                arrived = "\n  ".join(r.summary() for r in self.received) or "(nothing)"
                raise AssertionError(
                    f"peer {self.name!r}: expected {count} {what}POST(s) matching "
                    f"{_describe(predicate)} within {timeout}s, got {len(matches)}. "
                    f"Arrived ({len(self.received)}):\n  {arrived}"
                )
            await self._wait_change(deadline)

    async def assert_nothing(self, predicate: Predicate | str, *, within: float = 0.5) -> None:
        """Assert that no accepted POST matching ``predicate`` arrives within ``within`` s
        (including ones already received)."""
        pred = _as_predicate(predicate)
        deadline = time.monotonic() + within
        while True:
            matches = [r for r in self.received if r.accepted and _safe(pred, r)]
            if matches:
                raise AssertionError(
                    f"peer {self.name!r}: expected no POST matching {_describe(predicate)}, got:\n  "
                    + "\n  ".join(r.summary() for r in matches)
                )
            if time.monotonic() >= deadline:
                return
            await self._wait_change(deadline)

    async def wait_for_fetch(
        self, predicate: Callable[[FetchRecord], bool], *, timeout: float = 10.0, count: int = 1
    ) -> list[FetchRecord]:
        """Like wait_for, over ``fetches``. Needed for signed GETs of *actor documents*:
        their signature is checked (and the record written) after answering."""
        deadline = time.monotonic() + timeout
        while True:
            matches = [f for f in self.fetches if _safe(predicate, f)]
            if len(matches) >= count:
                return matches[:count]
            if time.monotonic() >= deadline:
                arrived = "\n  ".join(f.summary() for f in self.fetches) or "(nothing)"
                raise AssertionError(
                    f"peer {self.name!r}: expected {count} GET(s) matching "
                    f"{_describe(predicate)} within {timeout}s, got {len(matches)}. "
                    f"Served ({len(self.fetches)}):\n  {arrived}"
                )
            await self._wait_change(deadline)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait for pending background signature checks of GETs to be recorded."""
        pending = [t for t in self._background if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    def reset(self) -> None:
        """Forget received/fetch records and switch fault injection off."""
        self.received.clear()
        self.fetches.clear()
        self.key_fetches.clear()
        self.fail_with = None
        self.retry_after = None
        self.delay = 0.0

    # ------------------------------------------------------------------ key fetching
    async def lookup_key(self, key_id: str) -> CryptographicIdentifier:
        """The signer's key, fetched over HTTP from ``key_id`` (fragment dropped): an
        unsigned GET first; on 401 a GET signed by ``fetch_actor``. Concurrent lookups of
        one key share a single fetch; with ``cache_keys`` the result is kept."""
        task = self._key_tasks.get(key_id)
        if task is None or (task.done() and (not self.cache_keys or task.exception())):
            task = asyncio.create_task(self._fetch_key(key_id))
            self._key_tasks[key_id] = task
            if not self.cache_keys:
                task.add_done_callback(functools.partial(self._forget_key_task, key_id))
        return await asyncio.shield(task)

    def _forget_key_task(self, key_id: str, task: asyncio.Task[Any]) -> None:
        if self._key_tasks.get(key_id) is task:
            del self._key_tasks[key_id]
        if not task.cancelled():
            task.exception()  # mark retrieved

    async def _fetch_key(self, key_id: str) -> CryptographicIdentifier:
        url = key_id.split("#", 1)[0]
        record = KeyFetch(key_id=key_id, url=url, status=None, signed=False)
        self.key_fetches.append(record)
        try:
            response = await self.client.get(
                url, headers={"Accept": FETCH_ACCEPT}, timeout=self.key_fetch_timeout
            )
            record.first_status = record.status = response.status_code
            if response.status_code == 401:
                record.signed = True
                response = await asyncio.wait_for(
                    self.fetch_actor.get(url, accept=FETCH_ACCEPT), self.key_fetch_timeout
                )
                record.status = response.status_code
        except (TimeoutError, httpx.HTTPError) as exc:
            record.error = f"key fetch GET {url} failed: {exc!r}"
            raise KeyFetchError(record.error) from exc
        if response.status_code != 200:
            how = " (after a signed retry of a 401)" if record.signed else ""
            record.error = f"key fetch GET {url} answered HTTP {response.status_code}{how}"
            raise KeyFetchError(record.error)
        try:
            document = response.json()
        except ValueError as exc:
            record.error = f"key fetch GET {url} returned non-JSON: {response.text[:200]!r}"
            raise KeyFetchError(record.error) from exc
        if not isinstance(document, dict):
            record.error = f"key fetch GET {url} returned {type(document).__name__}, not an object"
            raise KeyFetchError(record.error)
        try:
            return identifier_from_document(document, key_id)
        except KeyFetchError as exc:
            record.error = str(exc)
            raise

    async def _verify(self, request: Request, body: bytes) -> tuple[dict[str, str], Verification]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        url = f"http://{headers.get('host', self.host)}{raw_path.decode('latin-1')}"
        if request.scope.get("query_string"):
            url += "?" + request.scope["query_string"].decode("latin-1")
        verification = await verify_request(
            method=request.method, url=url, headers=headers, body=body, lookup_key=self.lookup_key
        )
        return headers, verification

    # ------------------------------------------------------------------ HTTP
    async def _dispatch(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._handle_post(request)
        return await self._handle_get(request)

    async def _handle_post(self, request: Request) -> Response:
        seq = next(self._seq)
        arrived = time.time()
        # settings in force when the request arrived
        fail_with, retry_after, delay = self.fail_with, self.retry_after, self.delay
        path = request.url.path
        body = await request.body()
        status = 202
        inbox_error: str | None = None
        if path == "/inbox":
            pass
        elif path.startswith("/users/") and path.endswith("/inbox"):
            username = path[len("/users/") : -len("/inbox")]
            if username not in self.actors:
                status, inbox_error = 404, f"no actor {username!r} on this peer"
            elif self.actors[username].gone:
                status, inbox_error = 410, f"actor {username!r} is gone"
        else:
            return Response("not an inbox", status_code=404)
        if status == 202 and fail_with is not None:
            status = fail_with

        headers, verification = await self._verify(request, body)
        if delay:
            await asyncio.sleep(delay)
        disconnected = await request.is_disconnected() if delay else False
        try:
            activity = json.loads(body)
            if not isinstance(activity, dict):
                activity = None
        except ValueError:
            activity = None
        error = verification.error
        if inbox_error:
            error = f"{inbox_error}; {error}" if error else inbox_error
        record = Received(
            path=path,
            headers=headers,
            body=body,
            activity=activity,
            signature_valid=verification.valid,
            signer_key_id=verification.key_id,
            error=error,
            accepted=200 <= status < 300 and not disconnected,
            status=status,
            scheme=verification.scheme,
            signer=verification.signer,
            covered=verification.covered,
            disconnected=disconnected,
            at=arrived,
            seq=seq,
        )
        bisect.insort(self.received, record, key=lambda r: r.seq)
        self._notify()
        response_headers: dict[str, str] = {}
        if retry_after is not None and status in (429, 503):
            response_headers["Retry-After"] = retry_after
        return Response(
            None if status == 202 else f"peer {self.name}: {status}",
            status_code=status,
            headers=response_headers,
        )

    async def _handle_get(self, request: Request) -> Response:
        seq = next(self._seq)
        arrived = time.time()
        path = request.url.path
        query = request.url.query
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = "signature" in headers or "signature-input" in headers
        record = FetchRecord(
            path=path,
            signed=signed,
            signature_valid=None,
            query=query,
            accept=headers.get("accept"),
            headers=headers,
            at=arrived,
            seq=seq,
        )

        kind, payload, status = self._resolve_get(path, request)
        needs_signature = (kind == "object" and self.require_signed_fetch) or (
            kind == "actor" and self.require_signed_actor_fetch
        )
        # Signatures on GETs of actor documents are checked after answering (unless the
        # answer depends on them): the sender may need that very document to verify the
        # signed key fetch we make while checking. Everything else is checked first, so
        # the FetchRecord exists by the time the sender has its response.
        check_later = signed and kind == "actor" and not needs_signature
        if signed and not check_later:
            _, verification = await self._verify(request, b"")
            self._fill_fetch(record, verification)
        if needs_signature and status == 200 and not record.signature_valid:
            status, payload = 401, {"error": record.error or "request is not signed"}

        if check_later:
            task = asyncio.create_task(self._verify_later(request, record, status))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            record.status = status
            self._record_fetch(record)

        if status == 200 and payload is not None:
            media = "application/jrd+json" if kind == "webfinger" else ACTIVITY_JSON
            if kind == "nodeinfo":
                media = "application/json"
            return JSONResponse(payload, status_code=200, media_type=media)
        return JSONResponse(
            payload if payload is not None else {"error": "not found"}, status_code=status
        )

    async def _verify_later(self, request: Request, record: FetchRecord, status: int) -> None:
        try:
            _, verification = await self._verify(request, b"")
            self._fill_fetch(record, verification)
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - defensive
            record.signature_valid, record.error = False, f"verification crashed: {exc!r}"
        finally:
            record.status = status
            self._record_fetch(record)

    @staticmethod
    def _fill_fetch(record: FetchRecord, verification: Verification) -> None:
        record.signature_valid = verification.valid
        record.signer_key_id = verification.key_id
        record.signer = verification.signer
        record.scheme = verification.scheme
        record.error = verification.error

    def _record_fetch(self, record: FetchRecord) -> None:
        bisect.insort(self.fetches, record, key=lambda f: f.seq)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, deadline: float) -> None:
        """Sleep until a record is added or ``deadline`` (time.monotonic()) passes; also
        wakes every 50 ms so tests that edit ``received`` themselves are seen."""
        remaining = min(max(deadline - time.monotonic(), 0.0), 0.05)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), remaining)

    def _resolve_get(self, path: str, request: Request) -> tuple[str, dict[str, Any] | None, int]:
        """-> (kind, json payload, status). kind in actor/object/webfinger/nodeinfo/none."""
        if path == "/.well-known/webfinger":
            resource = request.query_params.get("resource", "")
            for actor in self._all_actors():
                if resource in (f"acct:{actor.handle}", actor.id, actor.url):
                    jrd = webfinger_response_json(f"acct:{actor.handle}", actor.id)
                    jrd["aliases"] = [actor.id, actor.url]
                    jrd["links"].insert(
                        0,
                        {
                            "rel": "http://webfinger.net/rel/profile-page",
                            "type": "text/html",
                            "href": actor.url,
                        },
                    )
                    return "webfinger", jrd, 200
            return "webfinger", None, 404
        if path == "/.well-known/nodeinfo":
            return (
                "nodeinfo",
                {
                    "links": [
                        {
                            "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                            "href": self.url("/nodeinfo/2.0"),
                        }
                    ]
                },
                200,
            )
        if path == "/nodeinfo/2.0":
            return (
                "nodeinfo",
                {
                    "version": "2.0",
                    "software": {"name": "fedblog-test-peer", "version": "1.0.0"},
                    "protocols": ["activitypub"],
                    "services": {"outbound": [], "inbound": []},
                    "usage": {"users": {"total": len(self.actors)}, "localPosts": 0},
                    "openRegistrations": False,
                    "metadata": {"nodeName": self.name},
                },
                200,
            )
        for actor in self._all_actors():
            if path == urlsplit(actor.id).path:
                if actor.gone:
                    return "actor", {"error": "gone"}, 410
                return "actor", actor.document(), 200
            for coll, items in (
                (actor.followers, actor.follower_ids),
                (actor.following, actor.following_ids),
                (actor.outbox, []),
            ):
                if path == urlsplit(coll).path:
                    return (
                        "object",
                        {
                            "@context": AS_CONTEXT,
                            "id": coll,
                            "type": "OrderedCollection",
                            "totalItems": len(items),
                            "orderedItems": list(items),
                        },
                        200,
                    )
        full = self.base_url + path + (f"?{request.url.query}" if request.url.query else "")
        for candidate in (full, self.base_url + path):
            if candidate in self.objects:
                return "object", self.objects[candidate], 200
            if candidate in self.gone_objects:
                return "object", {"error": "gone"}, 410
        return "none", None, 404

    def _all_actors(self) -> list[PeerActor]:
        actors = list(self.actors.values())
        if self._instance_actor is not None:
            actors.append(self._instance_actor)
        return actors

    def __repr__(self) -> str:
        where = self.base_url if self._port else "not started"
        return f"<Peer {self.name} {where} actors={list(self.actors)}>"


class _InstanceActor(PeerActor):
    """Application actor at /actor (like Mastodon's), used to sign key fetches when the
    peer has no actors of its own."""

    def __init__(self, peer: Peer) -> None:
        super().__init__(peer, "actor")
        self.display_name = peer.name

    @property
    def id(self) -> str:
        return f"{self.peer.base_url}/actor"

    def document(self) -> dict[str, Any]:
        doc = super().document()
        doc["type"] = "Application"
        return doc


# ============================================================================ helpers


def _as_predicate(predicate: Callable[[Any], bool] | str) -> Callable[[Any], bool]:
    if isinstance(predicate, str):
        type_ = predicate

        def has_type(r: Any) -> bool:
            return bool(r.type == type_)

        return has_type
    return predicate


def _safe(pred: Callable[[Any], bool], item: Any) -> bool:
    try:
        return bool(pred(item))
    except (KeyError, TypeError, AttributeError, IndexError):
        return False


def _describe(predicate: Any) -> str:
    if isinstance(predicate, str):
        return f"type == {predicate!r}"
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    code = getattr(predicate, "__code__", None)
    if code is not None:
        name += f" ({code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno})"
    return name
