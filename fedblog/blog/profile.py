"""The blog's profile settings; a change is announced to followers as Update(Person)."""

from __future__ import annotations

from typing import Any

from fedblog.models import BlogSettings
from fedblog.outbox import as2, publish
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Database
from fedblog.urls import Urls


class ProfileService:
    def __init__(self, db: Database, urls: Urls, public_key_pem: str) -> None:
        self.db = db
        self.urls = urls
        self.public_key_pem = public_key_pem

    async def get(self) -> BlogSettings:
        async with self.db.connection() as conn:
            return await settings_store.get_settings(conn)

    async def update(self, changes: dict[str, Any]) -> BlogSettings:
        async with self.db.transaction() as conn:
            before = await settings_store.get_settings(conn)
            after = await settings_store.update_settings(conn, changes)
            if after != before:
                actor = as2.blog_actor(self.urls, after, self.public_key_pem)
                actor.pop("@context")
                update = as2.wrap("Update", self.urls.new_activity(), self.urls, actor,
                                  to=[as2.PUBLIC], cc=[self.urls.followers])
                await publish.to_followers(conn, update, public=False)
        return after
