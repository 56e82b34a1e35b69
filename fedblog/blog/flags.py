"""Flags: a remote server reports posts, comments or actors; filed in the admin's reports list."""

from __future__ import annotations

from fedblog.federation.vocab import Activity
from fedblog.storage import reports as reports_store
from fedblog.storage.db import Connection


class Flags:
    async def file(self, conn: Connection, flag: Activity) -> None:
        """File the report once (a repeated Flag is the same report)."""
        objects = list(flag.objects) or ([flag.object_id] if flag.object_id else [])
        await reports_store.insert(conn, activity_id=flag.id, actor_id=flag.actor,
                                   reporter_host=flag.host, content=flag.content,
                                   object_ids=objects)
