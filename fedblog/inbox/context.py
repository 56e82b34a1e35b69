"""What a handler gets: the parsed activity, the stored item and the parts of the blog it uses."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import Enum

from fedblog.blog.actors import RemoteActors
from fedblog.blog.comments import CommentService
from fedblog.blog.flags import Flags
from fedblog.blog.follows import Follows
from fedblog.blog.quote_requests import QuoteRequests
from fedblog.blog.reactions import Reactions
from fedblog.federation.client import FederationClient
from fedblog.federation.vocab import Activity
from fedblog.inbox.keyring import Keyring
from fedblog.inbox.parents import AncestorMemory, ParentCache
from fedblog.inbox.queue import InboxQueue
from fedblog.storage.db import Connection
from fedblog.storage.inbox import InboxItem
from fedblog.urls import Urls


class Result(Enum):
    PROCESSED = "processed"
    IGNORED = "ignored"


class Rejected(Exception):
    """The inbox refuses the request; `status` and `reason` go back to the sender."""

    def __init__(self, status: int, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class WaitForObject(Exception):
    """The activity needs an object that has not arrived (a reply's parent): park it until a
    comment with that id is stored, then process it again."""

    def __init__(self, object_id: str) -> None:
        super().__init__(f"waiting for {object_id}")
        self.object_id = object_id


class RetryLater(Exception):
    """A passing failure (a remote fetch timed out): keep the activity and try again."""


@dataclass(frozen=True)
class PrecheckContext:
    """What a check made before an activity is stored may consult."""

    urls: Urls
    parents: ParentCache


@dataclass(frozen=True)
class HandlerServices:
    """What handlers use of the running blog, built once per process: the blog's commands
    (their only road to the data), the keyring for actors, and the client for signed fetches."""

    urls: Urls
    keyring: Keyring
    client: FederationClient
    comments: CommentService
    quote_requests: QuoteRequests
    follows: Follows
    reactions: Reactions
    flags: Flags
    actors: RemoteActors
    # Fetched ancestors of replies, remembered across retries and shared by concurrent ones.
    ancestors: AncestorMemory = field(default_factory=AncestorMemory)


@dataclass(frozen=True)
class HandlerContext:
    services: HandlerServices
    queue: InboxQueue
    item: InboxItem
    activity: Activity

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """The handler's writes and the item's 'processed' mark commit together: exactly once."""
        return self.queue.processing(self.item)
