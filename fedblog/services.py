"""The long-lived objects of one running process, built once from the runtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fedblog.blog.actors import RemoteActors
from fedblog.blog.blocks import BlockService, BlockTargets
from fedblog.blog.comments import CommentService
from fedblog.blog.conversation import Conversations
from fedblog.blog.flags import Flags
from fedblog.blog.followers import FollowerService
from fedblog.blog.follows import Follows
from fedblog.blog.media import CommentMedia
from fedblog.blog.posts import PostService
from fedblog.blog.profile import ProfileService
from fedblog.blog.queue import ModerationQueue
from fedblog.blog.quote_requests import QuoteRequests
from fedblog.blog.quotes import QuoteService
from fedblog.blog.reactions import Reactions
from fedblog.blog.reports import ReportService
from fedblog.blog.rules import ModerationRules
from fedblog.blog.tokens import Tokens
from fedblog.federation.signatures import VerifyPolicy
from fedblog.inbox.batcher import InboxBatcher
from fedblog.inbox.context import HandlerServices, PrecheckContext
from fedblog.inbox.keyring import ActorUnavailable, Keyring
from fedblog.inbox.parents import ParentCache
from fedblog.inbox.processor import InboxProcessor
from fedblog.inbox.queue import InboxQueue
from fedblog.inbox.receive import InboxReceiver
from fedblog.models import RemoteActor
from fedblog.outbox.delivery import DeliveryWorker
from fedblog.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Services:
    runtime: Runtime
    keyring: Keyring
    receiver: InboxReceiver
    processor: InboxProcessor
    parent_cache: ParentCache
    delivery: DeliveryWorker
    posts: PostService
    comments: CommentService
    conversations: Conversations
    media: CommentMedia
    quotes: QuoteService
    blocks: BlockService
    reports: ReportService
    followers: FollowerService
    profile: ProfileService
    queue: ModerationQueue
    rules: ModerationRules
    tokens: Tokens
    block_targets: BlockTargets

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        comments = CommentService(runtime.db, runtime.urls)
        quotes = QuoteService(runtime.db, runtime.urls)
        actors = RemoteActors(runtime.db, comments)
        keyring = Keyring(actors, runtime.client)
        parent_cache = ParentCache(comments.parent_of)
        settings = runtime.settings
        blocks = BlockService(runtime, comments)
        return cls(
            runtime=runtime,
            keyring=keyring,
            receiver=InboxReceiver(
                keyring, runtime.blocklist, InboxBatcher(runtime.db),
                PrecheckContext(runtime.urls, parent_cache),
                policy=VerifyPolicy(max_age=settings.signature_max_age,
                                    max_future=settings.signature_max_future),
                host_rate=settings.inbox_host_rate, actor_rate=settings.inbox_actor_rate),
            processor=InboxProcessor(
                InboxQueue(runtime.db),
                HandlerServices(urls=runtime.urls, keyring=keyring, client=runtime.client,
                                comments=comments, quote_requests=QuoteRequests(quotes),
                                follows=Follows(runtime.db, runtime.urls),
                                reactions=Reactions(runtime.db), flags=Flags(), actors=actors),
                lease_seconds=settings.inbox_lease),
            parent_cache=parent_cache,
            delivery=DeliveryWorker(runtime.db, runtime.client, runtime.signing_key, runtime.retry,
                                    concurrency=runtime.settings.delivery_concurrency,
                                    delivery_timeout=runtime.settings.delivery_timeout),
            posts=PostService(runtime.db, runtime.urls),
            comments=comments,
            conversations=Conversations(runtime.db, runtime.urls, runtime.blocklist),
            media=CommentMedia(runtime.db, runtime.client),
            quotes=quotes,
            blocks=blocks,
            reports=ReportService(runtime, blocks),
            followers=FollowerService(runtime.db, runtime.urls),
            profile=ProfileService(runtime.db, runtime.urls, runtime.blog_key.public_key_pem),
            queue=ModerationQueue(runtime.db),
            rules=ModerationRules(runtime.db),
            tokens=Tokens(runtime.db),
            block_targets=BlockTargets(runtime.db, runtime.client, _fetch_or_none(keyring),
                                       scheme=settings.scheme),
        )


def _fetch_or_none(keyring: Keyring) -> Callable[[str], Awaitable[RemoteActor | None]]:
    """The keyring's fetch of an actor, None when it cannot be had."""
    async def fetch(actor_id: str) -> RemoteActor | None:
        try:
            return await keyring.actor(actor_id)
        except ActorUnavailable:
            return None
    return fetch


async def watch_blocks(services: Services, stop: asyncio.Event, *, interval: float = 5.0) -> None:
    """Keep this process's block list fresh (NOTIFY from any process, or every few seconds)
    and lift expired blocks."""
    wake = asyncio.Event()
    while not stop.is_set():
        try:
            async with services.runtime.db.listening("fedblog_blocks", wake.set):
                while not stop.is_set():
                    await services.blocks.reload()
                    await services.blocks.lift_expired()
                    wake.clear()
                    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
                    _, pending = await asyncio.wait(waiters, timeout=interval,
                                                    return_when=asyncio.FIRST_COMPLETED)
                    for waiter in waiters:
                        waiter.cancel()
        except Exception as exc:  # the database may be restarting
            log.warning("block list refresh paused: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval)
