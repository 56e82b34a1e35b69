"""Public keys of remote actors: memory, then the stored actors, then a signed fetch from the actor."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedblog.blog.actors import RemoteActors
from fedblog.federation.client import FederationClient, FetchError, RemoteGone
from fedblog.federation.signatures import SignatureError, load_public_key_pem
from fedblog.federation.vocab import (
    Actor,
    VocabError,
    check_json_document,
    host_of,
    parse_actor,
)
from fedblog.models import RemoteActor
from fedblog.singleflight import SingleFlight

log = logging.getLogger(__name__)


class KeyUnavailable(Exception):
    """The key could not be found or fetched; the request cannot be verified."""


class ActorUnavailable(Exception):
    """A remote actor could not be fetched or did not parse."""


@dataclass(frozen=True)
class FetchedActor:
    """An actor document fetched for a key, held in memory until a signature made with that
    key verifies: only then is it stored (an unverified request stores nothing)."""

    actor: RemoteActor
    document: Any
    key_pem: str


@dataclass(frozen=True)
class ResolvedKey:
    key_id: str
    actor_id: str
    public_key: object
    fetched_at: float      # when this key was last fetched from its owner (unix time)
    unconfirmed: FetchedActor | None = None  # fetched, not yet stored: see Keyring.confirm


def remote_actor(actor: Actor) -> RemoteActor:
    return RemoteActor(
        id=actor.id, host=host_of(actor.id), type=actor.type, inbox=actor.inbox,
        shared_inbox=actor.shared_inbox, preferred_username=actor.preferred_username,
        name=actor.name, url=actor.url, icon_url=actor.icon_url,
    )


def _key_from_actor(actor: Actor, key_id: str) -> tuple[str, object]:
    """The PEM and key object the actor publishes under `key_id`."""
    if actor.public_key is not None and actor.public_key.id == key_id:
        pem = actor.public_key.pem
        return pem, load_public_key_pem(pem)
    for multikey in actor.multikeys:
        if multikey.id == key_id:
            public = Ed25519PublicKey.from_public_bytes(multikey.public_key)
            pem = public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
            return pem, public
    raise KeyUnavailable(f"actor {actor.id} does not publish key {key_id}")


async def fetch_document(client: FederationClient, url: str) -> Any:
    """A fetched JSON document that is safe to keep and read (check_json_document): hostile
    values (NaN, 1e999, NUL, lone surrogates, deep nesting) are a VocabError, not a crash."""
    try:
        document = await client.fetch_json(url)
    except RecursionError as exc:
        raise VocabError(f"{url}: nested too deeply") from exc
    check_json_document(document, url[:200])
    return document


class Keyring:
    """Resolves keyIds to keys; a refresh (for key rotation) is allowed once a minute per key.

    A key whose owner served a document we cannot use (hostile JSON, no such key, another
    host) is refused again without fetching for `negative_ttl` seconds. A freshly fetched key
    is not stored until `confirm` (after a signature made with it verified)."""

    def __init__(self, actors: RemoteActors, client: FederationClient, *,
                 capacity: int = 20_000, refresh_interval: float = 60.0,
                 negative_ttl: float = 300.0) -> None:
        self.actors = actors
        self.client = client
        self.capacity = capacity
        self.refresh_interval = refresh_interval
        self.negative_ttl = negative_ttl
        self._memory: OrderedDict[str, ResolvedKey] = OrderedDict()
        # A document URL (hostile JSON) or a key id (no such key) -> (until, why)
        self._refused: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._unconfirmed: OrderedDict[str, ResolvedKey] = OrderedDict()  # fetched, unverified
        self._fetching: SingleFlight[str, ResolvedKey] = SingleFlight()

    def _remember(self, key: ResolvedKey) -> ResolvedKey:
        self._memory[key.key_id] = key
        self._memory.move_to_end(key.key_id)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)
        return key

    def _refuse(self, url: str, reason: str) -> KeyUnavailable:
        self._refused[url] = (time.monotonic() + self.negative_ttl, reason)
        self._refused.move_to_end(url)
        while len(self._refused) > self.capacity:
            self._refused.popitem(last=False)
        return KeyUnavailable(reason)

    def _still_refused(self, url: str) -> str | None:
        entry = self._refused.get(url)
        if entry is None:
            return None
        until, reason = entry
        if time.monotonic() >= until:
            del self._refused[url]
            return None
        return reason

    async def confirm(self, key: ResolvedKey) -> ResolvedKey:
        """A signature made with `key` verified: store the actor it was fetched with, if new."""
        fetched = key.unconfirmed
        if fetched is None:
            return key
        if self._unconfirmed.get(key.key_id) is not key:
            # Requests that shared the fetch verify one after the other: the first stores it.
            known = self._memory.get(key.key_id)
            if known is not None and known.fetched_at >= key.fetched_at:
                return known
        self._unconfirmed.pop(key.key_id, None)
        # Remembered before the first await, so a concurrent confirm sees it and stores nothing.
        confirmed = self._remember(ResolvedKey(key.key_id, key.actor_id, key.public_key,
                                               key.fetched_at))
        await self.actors.store(fetched.actor, fetched.document, key_id=key.key_id,
                                key_pem=fetched.key_pem)
        return confirmed

    def forget_actor(self, actor_id: str) -> None:
        for cache in (self._memory, self._unconfirmed):
            for key_id in [k for k, v in cache.items() if v.actor_id == actor_id]:
                del cache[key_id]

    def may_refresh(self, key: ResolvedKey) -> bool:
        return time.time() - key.fetched_at >= self.refresh_interval

    async def resolve(self, key_id: str, *, refresh: bool = False) -> ResolvedKey:
        if not refresh:
            cached = self._memory.get(key_id)
            if cached is not None:
                return cached
            stored = await self._from_database(key_id)
            if stored is not None:
                return self._remember(stored)
            pending = self._unconfirmed.get(key_id)
            if pending is not None and not self.may_refresh(pending):
                return pending
        refused = self._still_refused(key_id.split("#", 1)[0]) or self._still_refused(key_id)
        if refused is not None:
            raise KeyUnavailable(f"{refused} (refused again without fetching)")
        # Kept apart until `confirm`: an unverified fetch is never stored.
        key = await self._fetch_once(key_id)
        self._unconfirmed[key_id] = key
        self._unconfirmed.move_to_end(key_id)
        while len(self._unconfirmed) > 1000:
            self._unconfirmed.popitem(last=False)
        return key

    async def _fetch_once(self, key_id: str) -> ResolvedKey:
        """Concurrent requests signed with the same unknown key share one fetch."""
        return await self._fetching.run(key_id, lambda: self._fetch(key_id))

    async def _from_database(self, key_id: str) -> ResolvedKey | None:
        stored = await self.actors.key(key_id)
        if stored is None:
            return None
        try:
            public_key = load_public_key_pem(stored.public_key_pem)
        except SignatureError:
            return None
        return ResolvedKey(key_id, stored.actor_id, public_key, stored.fetched_at.timestamp())

    async def _fetch(self, key_id: str) -> ResolvedKey:
        url = key_id.split("#", 1)[0]
        try:
            document = await fetch_document(self.client, url)
            actor, document = await self._owner(document, key_id)
            pem, public_key = _key_from_actor(actor, key_id)
            if host_of(actor.id) != host_of(key_id):
                raise KeyUnavailable(f"key {key_id} is on another host than its actor {actor.id}")
        except RemoteGone as exc:
            raise KeyUnavailable(f"the key's owner is gone: {exc}") from exc
        except FetchError as exc:
            # The sender is not authenticated yet: what the fetch met (DNS answers, connection
            # errors) goes to the log, not into the answer.
            log.info("key %s not fetched: %s", key_id, exc.detail)
            raise KeyUnavailable("could not fetch the key") from exc
        except VocabError as exc:
            # The document itself is unusable (hostile JSON, not an actor): whatever key is
            # asked for under this URL, do not fetch it again for a while.
            raise self._refuse(url, f"could not use key {key_id}: {exc}") from exc
        except (SignatureError, KeyUnavailable) as exc:
            # This key is not there or not usable; another keyId of the same actor may be (a
            # stranger naming a made-up fragment must not lock out the actor's real key).
            raise self._refuse(key_id, f"could not use key {key_id}: {exc}") from exc
        fetched = FetchedActor(remote_actor(actor), document, pem)
        return ResolvedKey(key_id, actor.id, public_key, time.time(), unconfirmed=fetched)

    async def _owner(self, document: object, key_id: str) -> tuple[Actor, Any]:
        """The actor and its document, whether the keyId URL served the actor or a bare key."""
        if isinstance(document, dict) and "inbox" not in document and "owner" in document:
            owner = document["owner"]
            if not isinstance(owner, str) or host_of(owner) != host_of(key_id):
                raise KeyUnavailable(f"key {key_id} names an unusable owner")
            document = await fetch_document(self.client, owner)
        return parse_actor(document), document

    async def actor(self, actor_id: str) -> RemoteActor:
        """A remote actor, from the database or fetched (and stored) when unknown."""
        known = await self.actors.get(actor_id)
        if known is not None:
            return known
        try:
            document = await fetch_document(self.client, actor_id)
            actor = parse_actor(document)
        except FetchError as exc:
            log.info("actor %s not fetched: %s", actor_id, exc.detail)
            raise ActorUnavailable(f"could not fetch actor {actor_id}") from exc
        except VocabError as exc:
            raise ActorUnavailable(f"could not use actor {actor_id}: {exc}") from exc
        if actor.id != actor_id:
            raise ActorUnavailable(f"{actor_id} served a document for {actor.id}")
        await self.actors.store(remote_actor(actor), document)
        return remote_actor(actor)
