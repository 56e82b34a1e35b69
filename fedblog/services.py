"""The long-lived objects of one running process, built once from the runtime, each handed
what it uses; and the process-wide state they share (the block list, the rate buckets)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from fedblog.blog.actors import RemoteActors
from fedblog.blog.blocklist import Blocklist
from fedblog.blog.blocks import BlockService, BlockTargets
from fedblog.blog.comments import CommentService
from fedblog.blog.conversation import Conversations
from fedblog.blog.feeds import Feeds
from fedblog.blog.flags import Flags
from fedblog.blog.followers import FollowerService
from fedblog.blog.follows import Follows
from fedblog.blog.media import CommentMedia
from fedblog.blog.operations import Operations
from fedblog.blog.posts import PostService
from fedblog.blog.profile import ProfileService
from fedblog.blog.published import Published
from fedblog.blog.queue import ModerationQueue
from fedblog.blog.quote_requests import QuoteRequests
from fedblog.blog.quotes import QuoteService
from fedblog.blog.reactions import Reactions
from fedblog.blog.reports import ReportService
from fedblog.blog.rules import ModerationRules
from fedblog.blog.sessions import DeskSessions, LoginThrottle
from fedblog.blog.thread_states import ThreadStates
from fedblog.blog.tokens import Tokens
from fedblog.config import Settings
from fedblog.federation.signatures import VerifyPolicy
from fedblog.inbox.batcher import InboxBatcher
from fedblog.inbox.context import HandlerServices, PrecheckContext
from fedblog.inbox.keyring import ActorUnavailable, Keyring
from fedblog.inbox.parents import ParentCache
from fedblog.inbox.processor import InboxProcessor
from fedblog.inbox.queue import InboxQueue
from fedblog.inbox.ratelimit import TokenBuckets
from fedblog.inbox.receive import InboxReceiver
from fedblog.models import RemoteActor
from fedblog.outbox.delivery import DeliveryWorker
from fedblog.outbox.retry import RetryPolicy
from fedblog.runtime import Runtime, open_runtime
from fedblog.storage.workers import WorkerSession

log = logging.getLogger(__name__)


@dataclass
class Services:
    runtime: Runtime
    blocklist: Blocklist
    # Remote-reply lookups make the blog fetch from a server the reader names: a few a minute.
    reply_lookups: TokenBuckets
    # Tokens are long and random, but FEDBLOG_API_TOKEN may not be: failed API and desk logins
    # are throttled per client and per token prefix (blog/sessions.py).
    login_attempts: LoginThrottle
    desk_sessions: DeskSessions
    keyring: Keyring
    receiver: InboxReceiver
    processor: InboxProcessor
    parent_cache: ParentCache
    delivery: DeliveryWorker
    session: WorkerSession     # the queue workers' claims live as long as its heartbeat
    posts: PostService
    comments: CommentService
    conversations: Conversations
    feeds: Feeds
    published: Published
    thread_states: ThreadStates
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
    operations: Operations

    @classmethod
    def build(cls, runtime: Runtime, blocklist: Blocklist) -> Services:
        """`blocklist` is the one the runtime's client consults (see open_services)."""
        comments = CommentService(runtime.db, runtime.urls)
        quotes = QuoteService(runtime.db, runtime.urls)
        actors = RemoteActors(runtime.db, comments)
        keyring = Keyring(actors, runtime.client)
        parent_cache = ParentCache(comments.parent_of)
        settings = runtime.settings
        blocks = BlockService(runtime.db, runtime.urls, blocklist, comments)
        session = WorkerSession(runtime.db)
        return cls(
            runtime=runtime,
            blocklist=blocklist,
            reply_lookups=TokenBuckets(rate=0.2, burst=10),
            login_attempts=LoginThrottle(),
            desk_sessions=DeskSessions(runtime.db),
            keyring=keyring,
            receiver=InboxReceiver(
                keyring, blocklist, InboxBatcher(runtime.db),
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
                lease_seconds=settings.inbox_lease, session=session,
                retention_seconds=settings.inbox_retention_days * 86400),
            parent_cache=parent_cache,
            delivery=DeliveryWorker(runtime.db, runtime.client, runtime.signing_key,
                                    RetryPolicy(scale=settings.retry_scale),
                                    concurrency=runtime.settings.delivery_concurrency,
                                    delivery_timeout=runtime.settings.delivery_timeout,
                                    session=session),
            session=session,
            posts=PostService(runtime.db, runtime.urls),
            comments=comments,
            conversations=Conversations(runtime.db, runtime.urls, blocklist),
            feeds=Feeds(runtime.db, blocklist),
            published=Published(runtime.db),
            thread_states=ThreadStates(runtime.db),
            media=CommentMedia(runtime.db, runtime.client),
            quotes=quotes,
            blocks=blocks,
            reports=ReportService(runtime.db, runtime.urls, blocks),
            followers=FollowerService(runtime.db, runtime.urls),
            profile=ProfileService(runtime.db, runtime.urls, runtime.blog_key.public_key_pem),
            queue=ModerationQueue(runtime.db),
            rules=ModerationRules(runtime.db),
            tokens=Tokens(runtime.db),
            block_targets=BlockTargets(runtime.db, runtime.client, _fetch_or_none(keyring),
                                       scheme=settings.scheme),
            operations=Operations(runtime.db),
        )


@asynccontextmanager
async def open_services(settings: Settings, dsn: str, *,
                        transport: httpx.AsyncBaseTransport | None = None
                        ) -> AsyncIterator[Services]:
    """The runtime and the services on it, with one block list for the client and the blog."""
    blocklist = Blocklist()
    async with open_runtime(settings, dsn, blocked=blocklist.url_blocked,
                            transport=transport) as runtime:
        yield Services.build(runtime, blocklist)


def _fetch_or_none(keyring: Keyring) -> Callable[[str], Awaitable[RemoteActor | None]]:
    """The keyring's fetch of an actor, None when it cannot be had."""
    async def fetch(actor_id: str) -> RemoteActor | None:
        try:
            return await keyring.actor(actor_id)
        except ActorUnavailable:
            return None
    return fetch


async def run_queues(services: Services, stop: asyncio.Event) -> None:
    """Process the inbox and deliver, under this process's worker session: its heartbeat keeps
    their claims, and it ends (freeing what is left at once) only after both wound down."""
    async with services.session.running(stop):
        await asyncio.gather(services.processor.run(stop), services.delivery.run(stop))


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
                    await asyncio.wait(waiters, timeout=interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                    for waiter in waiters:
                        waiter.cancel()
        except Exception as exc:  # noqa: BLE001 -- the database may be restarting
            log.warning("block list refresh paused: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval)
