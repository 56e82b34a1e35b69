"""What the web's page cache reads (web/pagecache.py): the site's state (settings and blocks),
each post's validator, and the NOTIFY that says one of them changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from fedblog.blog.blocklist import BlockEntry
from fedblog.blog.blocks import block_entries
from fedblog.models import BlogSettings
from fedblog.storage import blocks as blocks_store
from fedblog.storage import posts as posts_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Database
from fedblog.storage.posts import ThreadState

__all__ = ["SiteReading", "ThreadState", "ThreadStates"]


@dataclass(frozen=True)
class SiteReading:
    """What every page depends on besides its own post."""

    settings: BlogSettings
    blocks: list[BlockEntry]


class ThreadStates:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def site(self) -> SiteReading:
        """Two queries."""
        async with self.db.connection() as conn:
            settings = await settings_store.get_settings(conn)
            blocks = await blocks_store.all_blocks(conn)
        return SiteReading(settings, block_entries(blocks))

    async def thread(self, post_id: int, post_url: str) -> ThreadState | None:
        """The post, its counts and its validator in one query; None when there is no such post."""
        async with self.db.connection() as conn:
            return await posts_store.thread_state(conn, post_id, post_url)

    def notifications(self, on_payload: Callable[[str], None], on_lost: Callable[[], None]
                      ) -> AbstractAsyncContextManager[Callable[[], Awaitable[None]]]:
        """LISTEN for page changes (see storage/posts.page_notifications)."""
        return posts_store.page_notifications(self.db, on_payload, on_lost)
