"""One delivery attempt: the activity's bytes, signed and POSTed, the answer as an `Outcome`.

Nothing here writes to the database; what to record is the bookkeeping's business.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fedblog.federation.client import DeliveryResult, FederationClient, Scheme
from fedblog.federation.keys import SigningKey
from fedblog.outbox.host_memory import HostMemory
from fedblog.outbox.retry import Outcome, classify
from fedblog.storage import outbox as outbox_store
from fedblog.storage.db import Connection, Database
from fedblog.storage.outbox import Delivery

BODY_CACHE = 256           # activities whose JSON is kept ready to send
REFUSED_PREFIX = "forbidden target"


class BodyCache:
    """Activities' JSON as stored, kept ready: a fan-out sends one body to thousands of inboxes."""

    def __init__(self, db: Database, *, size: int = BODY_CACHE) -> None:
        self.db = db
        self.size = size
        self._bodies: OrderedDict[int, bytes] = OrderedDict()

    async def preload(self, conn: Connection, activity_pks: Iterable[int]) -> None:
        """Load the ones not held yet, over the caller's connection (the one it claimed on)."""
        missing = set(activity_pks) - self._bodies.keys()
        if missing:
            self._remember(await outbox_store.bodies(conn, sorted(missing)))

    async def body(self, activity_pk: int) -> bytes:
        body = self._bodies.get(activity_pk)
        if body is None:  # evicted between claim and send
            async with self.db.connection() as conn:
                found = await outbox_store.bodies(conn, [activity_pk])
            self._remember(found)
            body = found[activity_pk]
        return body

    def _remember(self, found: dict[int, bytes]) -> None:
        self._bodies.update(found)
        while len(self._bodies) > self.size:
            self._bodies.popitem(last=False)


@dataclass(frozen=True)
class Attempted:
    result: DeliveryResult
    outcome: Outcome


def outcome_of(result: DeliveryResult) -> Outcome:
    # A target the client would not contact (blocked, or a private address) will not become
    # contactable by waiting. DeliveryResult says so only in its error text, so it is read in
    # this one place and nowhere else.
    if result.status is None and (result.error or "").startswith(REFUSED_PREFIX):
        return Outcome.GIVE_UP
    return classify(result.status)


class Attempt:
    def __init__(self, client: FederationClient, keys: Callable[[str], SigningKey],
                 bodies: BodyCache, hosts: HostMemory) -> None:
        self.client = client
        self.keys = keys
        self.bodies = bodies
        self.hosts = hosts

    async def make(self, job: Delivery) -> Attempted:
        result = await self._post(job)
        return Attempted(result, outcome_of(result))

    async def _post(self, job: Delivery) -> DeliveryResult:
        body = await self.bodies.body(job.activity_pk)
        key = self.keys(job.signer)
        scheme = await self.hosts.scheme_for(job.host)
        if job.reaches_blocked:
            return await self.client.deliver(job.inbox, body, key, scheme, ignore_blocks=True)
        result = await self.client.deliver(job.inbox, body, key, scheme)
        if result.status == 401:
            # "Double knocking" as Fedify does: the host may only accept the other scheme. Only
            # on 401: GoToSocial answers 403 for refusals that are not about the signature
            # (a block, a policy), and a second knock would turn that answer into a 401.
            other: Scheme = "rfc9421" if scheme == "cavage" else "cavage"
            retried = await self.client.deliver(job.inbox, body, key, other)
            if retried.ok:
                return retried
        return result
