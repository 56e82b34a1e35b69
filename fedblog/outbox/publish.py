"""Turning the blog's decisions into stored activities and queued deliveries, in the caller's transaction."""

from __future__ import annotations

from fedblog.federation.hosts import url_host_or_empty
from fedblog.models import RemoteActor
from fedblog.outbox.as2 import Document
from fedblog.storage import followers as followers_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage.db import Connection


def _object_id(activity: Document) -> str | None:
    obj = activity.get("object")
    if isinstance(obj, dict):
        value = obj.get("id")
        return value if isinstance(value, str) else None
    return obj if isinstance(obj, str) else None


async def to_followers(conn: Connection, activity: Document, *, public: bool = True,
                       extra_inboxes: tuple[str, ...] = ()) -> int:
    """Store the activity and queue it for every follower's (shared) inbox; returns the queued count."""
    pk = await outbox_store.insert_activity(
        conn, activity_id=activity["id"], type_=activity["type"],
        object_id=_object_id(activity), body=activity, public=public,
    )
    inboxes = await followers_store.delivery_inboxes(conn)
    return await outbox_store.enqueue(conn, pk, [*inboxes, *extra_inboxes])


async def to_actor(conn: Connection, activity: Document, actor: RemoteActor, *,
                   signer: str = "blog", reaches_blocked: bool = False,
                   inbox: str | None = None) -> int:
    """Store the activity and queue it for one actor's personal inbox (Accept, Reject, Block).

    `reaches_blocked` lets the activities of a blocking itself through to the blocked actor.
    """
    pk = await outbox_store.insert_activity(
        conn, activity_id=activity["id"], type_=activity["type"],
        object_id=_object_id(activity), body=activity, signer=signer, public=False,
        reaches_blocked=reaches_blocked,
    )
    return await outbox_store.enqueue(conn, pk, [inbox or actor.inbox])


async def forward(conn: Connection, raw_activity: Document, local_id: str, *,
                  skip_host: str) -> int:
    """Inbox forwarding: the remote activity unchanged (its LD signature intact) to the followers.

    The author's own server already has it, so inboxes on its host are skipped.
    """
    pk = await outbox_store.insert_activity(
        conn, activity_id=local_id, type_=str(raw_activity.get("type", "Create")),
        object_id=_object_id(raw_activity), body=raw_activity, public=False,
    )
    inboxes = [inbox for inbox in await followers_store.delivery_inboxes(conn)
               if url_host_or_empty(inbox) != skip_host]
    return await outbox_store.enqueue(conn, pk, inboxes)
