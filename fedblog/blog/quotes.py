"""Quote requests: approved (Accept + a QuoteAuthorization), rejected, or revoked (Delete)."""

from __future__ import annotations

import secrets

from fedblog.models import RemoteActor
from fedblog.outbox import as2, publish
from fedblog.storage import actors as actors_store
from fedblog.storage import followers as followers_store
from fedblog.storage import quotes as quotes_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection, Database
from fedblog.storage.quotes import QuoteRequest
from fedblog.urls import Urls

# action -> (states it may start from, resulting state)
QUOTE_TRANSITIONS = {
    "approve": (("pending", "rejected"), "approved"),
    "reject": (("pending",), "rejected"),
    "revoke": (("approved",), "revoked"),
}


class QuoteRequestNotFound(LookupError):
    """No quote request has that id."""


class QuoteTransitionError(ValueError):
    """The request's state does not allow that decision."""


__all__ = ["QUOTE_TRANSITIONS", "QuoteRequest", "QuoteRequestNotFound", "QuoteService",
           "QuoteTransitionError"]


class QuoteService:
    def __init__(self, db: Database, urls: Urls) -> None:
        self.db = db
        self.urls = urls

    async def receive(self, conn: Connection, *, activity_id: str, requester: RemoteActor,
                      post_id: int, quoting_object_id: str, instrument: object) -> None:
        request = await quotes_store.insert(conn, activity_id=activity_id, actor_id=requester.id,
                                            post_id=post_id, quoting_object_id=quoting_object_id,
                                            instrument=instrument)
        if request is None:
            return
        settings = await settings_store.get_settings(conn)
        follower = await followers_store.get(conn, requester.id)
        if settings.quote_policy == "everyone" or (
                settings.quote_policy == "followers" and follower is not None
                and follower.state == "accepted"):
            await self._apply(conn, request, "approve")
        elif settings.quote_policy == "nobody":
            await self._apply(conn, request, "reject")

    async def requests(self, state: str | None, limit: int) -> list[QuoteRequest]:
        """Quote requests (in `state`), newest first."""
        async with self.db.connection() as conn:
            return await quotes_store.list_by_state(conn, state, limit)

    async def decide(self, request_id: int, action: str) -> QuoteRequest:
        async with self.db.transaction() as conn:
            request = await quotes_store.get(conn, request_id)
            if request is None:
                raise QuoteRequestNotFound(request_id)
            return await self._apply(conn, request, action)

    async def _apply(self, conn: Connection, request: QuoteRequest, action: str) -> QuoteRequest:
        allowed, target = QUOTE_TRANSITIONS[action]
        if request.state not in allowed:
            raise QuoteTransitionError(f"cannot {action} a quote request that is {request.state}")
        token = secrets.token_urlsafe(16) if target == "approved" else None
        decided = await quotes_store.decide(conn, request.id, target, token)
        requester = await actors_store.get(conn, request.actor_id)
        if requester is None:
            return decided
        post_url = self.urls.post(request.post_id)
        if target == "revoked" and decided.token:
            revoke = as2.wrap("Delete", self.urls.new_activity(), self.urls,
                              self.urls.quote_authorization(decided.token),
                              to=[requester.id], cc=[self.urls.followers])
            await publish.to_followers(conn, revoke, public=False, extra_inboxes=(requester.inbox,))
            return decided
        verb = "Accept" if target == "approved" else "Reject"
        result = self.urls.quote_authorization(token) if token else None
        decision = as2.quote_decision(verb, self.urls.new_activity(), self.urls,
                                      request_id=request.activity_id, requester=requester,
                                      post_url=post_url, quoting_object=request.quoting_object_id,
                                      result=result)
        await publish.to_actor(conn, decision, requester)
        return decided
