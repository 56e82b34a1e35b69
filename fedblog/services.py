"""The long-lived objects of one running process, built once from the runtime."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fedblog.blog.blocks import BlockService
from fedblog.blog.comments import CommentService
from fedblog.blog.conversation import Conversations
from fedblog.blog.followers import FollowerService
from fedblog.blog.posts import PostService
from fedblog.blog.profile import ProfileService
from fedblog.blog.quotes import QuoteService
from fedblog.blog.reports import ReportService
from fedblog.inbox.keyring import Keyring
from fedblog.inbox.processor import InboxProcessor
from fedblog.inbox.receive import InboxReceiver
from fedblog.outbox.delivery import DeliveryWorker
from fedblog.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Services:
    runtime: Runtime
    keyring: Keyring
    receiver: InboxReceiver
    processor: InboxProcessor
    delivery: DeliveryWorker
    posts: PostService
    comments: CommentService
    conversations: Conversations
    quotes: QuoteService
    blocks: BlockService
    reports: ReportService
    followers: FollowerService
    profile: ProfileService

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        keyring = Keyring(runtime)
        comments = CommentService(runtime.db, runtime.urls)
        quotes = QuoteService(runtime.db, runtime.urls)
        blocks = BlockService(runtime, comments)
        return cls(
            runtime=runtime,
            keyring=keyring,
            receiver=InboxReceiver(runtime, keyring),
            processor=InboxProcessor(runtime, keyring, comments, quotes,
                                     lease_seconds=runtime.settings.inbox_lease),
            delivery=DeliveryWorker(runtime.db, runtime.client, runtime.signing_key, runtime.retry,
                                    concurrency=runtime.settings.delivery_concurrency,
                                    delivery_timeout=runtime.settings.delivery_timeout),
            posts=PostService(runtime.db, runtime.urls),
            comments=comments,
            conversations=Conversations(runtime.db, runtime.urls, runtime.blocklist),
            quotes=quotes,
            blocks=blocks,
            reports=ReportService(runtime, blocks),
            followers=FollowerService(runtime.db, runtime.urls),
            profile=ProfileService(runtime.db, runtime.urls, runtime.blog_key.public_key_pem),
        )


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
