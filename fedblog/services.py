"""The long-lived objects of one running process, built once from the runtime."""

from __future__ import annotations

from dataclasses import dataclass

from fedblog.blog.comments import CommentService
from fedblog.blog.quotes import QuoteService
from fedblog.blog.followers import FollowerService
from fedblog.blog.posts import PostService
from fedblog.blog.profile import ProfileService
from fedblog.inbox.keyring import Keyring
from fedblog.inbox.processor import InboxProcessor
from fedblog.inbox.receive import InboxReceiver
from fedblog.outbox.delivery import DeliveryWorker
from fedblog.runtime import Runtime


@dataclass
class Services:
    runtime: Runtime
    keyring: Keyring
    receiver: InboxReceiver
    processor: InboxProcessor
    delivery: DeliveryWorker
    posts: PostService
    comments: CommentService
    quotes: QuoteService
    followers: FollowerService
    profile: ProfileService

    @classmethod
    def build(cls, runtime: Runtime) -> Services:
        keyring = Keyring(runtime)
        comments = CommentService(runtime.db, runtime.urls)
        quotes = QuoteService(runtime.db, runtime.urls)
        return cls(
            runtime=runtime,
            keyring=keyring,
            receiver=InboxReceiver(runtime, keyring),
            processor=InboxProcessor(runtime, keyring, comments, quotes),
            delivery=DeliveryWorker(runtime),
            posts=PostService(runtime.db, runtime.urls),
            comments=comments,
            quotes=quotes,
            followers=FollowerService(runtime.db, runtime.urls),
            profile=ProfileService(runtime.db, runtime.urls, runtime.blog_key.public_key_pem),
        )
