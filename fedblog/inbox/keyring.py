"""Public keys of remote actors: memory, then the stored actors, then a signed fetch from the actor."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedblog.blog.actors import RemoteActors
from fedblog.federation.client import FederationClient, FetchError, RemoteGone
from fedblog.federation.signatures import SignatureError, load_public_key_pem
from fedblog.federation.vocab import Actor, VocabError, host_of, parse_actor
from fedblog.models import RemoteActor
from fedblog.singleflight import SingleFlight

log = logging.getLogger(__name__)


class KeyUnavailable(Exception):
    """The key could not be found or fetched; the request cannot be verified."""


class ActorUnavailable(Exception):
    """A remote actor could not be fetched or did not parse."""


@dataclass(frozen=True)
class ResolvedKey:
    key_id: str
    actor_id: str
    public_key: object
    fetched_at: float      # when this key was last fetched from its owner (unix time)


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


class Keyring:
    """Resolves keyIds to keys; a refresh (for key rotation) is allowed once a minute per key."""

    def __init__(self, actors: RemoteActors, client: FederationClient, *,
                 capacity: int = 20_000, refresh_interval: float = 60.0) -> None:
        self.actors = actors
        self.client = client
        self.capacity = capacity
        self.refresh_interval = refresh_interval
        self._memory: OrderedDict[str, ResolvedKey] = OrderedDict()
        self._fetching: SingleFlight[str, ResolvedKey] = SingleFlight()

    def _remember(self, key: ResolvedKey) -> ResolvedKey:
        self._memory[key.key_id] = key
        self._memory.move_to_end(key.key_id)
        while len(self._memory) > self.capacity:
            self._memory.popitem(last=False)
        return key

    def forget_actor(self, actor_id: str) -> None:
        for key_id in [k for k, v in self._memory.items() if v.actor_id == actor_id]:
            del self._memory[key_id]

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
        return self._remember(await self._fetch_once(key_id))

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
            document = await self.client.fetch_json(url)
            actor = await self._owner(document, key_id)
            pem, public_key = _key_from_actor(actor, key_id)
        except RemoteGone as exc:
            raise KeyUnavailable(f"the key's owner is gone: {exc}") from exc
        except (FetchError, VocabError, SignatureError) as exc:
            raise KeyUnavailable(f"could not fetch key {key_id}: {exc}") from exc
        if host_of(actor.id) != host_of(key_id):
            raise KeyUnavailable(f"key {key_id} is on another host than its actor {actor.id}")
        await self.actors.store(remote_actor(actor), document, key_id=key_id, key_pem=pem)
        return ResolvedKey(key_id, actor.id, public_key, time.time())

    async def _owner(self, document: object, key_id: str) -> Actor:
        """The actor document, whether the keyId URL served the actor or a bare key object."""
        if isinstance(document, dict) and "inbox" not in document and "owner" in document:
            owner = document["owner"]
            if not isinstance(owner, str) or host_of(owner) != host_of(key_id):
                raise KeyUnavailable(f"key {key_id} names an unusable owner")
            document = await self.client.fetch_json(owner)
        return parse_actor(document)

    async def actor(self, actor_id: str) -> RemoteActor:
        """A remote actor, from the database or fetched (and stored) when unknown."""
        known = await self.actors.get(actor_id)
        if known is not None:
            return known
        try:
            document = await self.client.fetch_json(actor_id)
            actor = parse_actor(document)
        except (FetchError, VocabError) as exc:
            raise ActorUnavailable(f"could not fetch actor {actor_id}: {exc}") from exc
        if actor.id != actor_id:
            raise ActorUnavailable(f"{actor_id} served a document for {actor.id}")
        await self.actors.store(remote_actor(actor), document)
        return remote_actor(actor)
