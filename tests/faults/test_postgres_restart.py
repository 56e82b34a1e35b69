"""PostgreSQL restarted under the running server: it answers 5xx meanwhile, then carries on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fedblog.storage.embedded import EmbeddedPostgres
from tests.harness import BlogServer
from tests.peers.peer import Peer


async def test_server_reconnects_after_postgres_restarts(tmp_path: Path) -> None:
    database = EmbeddedPostgres(tmp_path)
    dsn = await asyncio.to_thread(database.start)
    try:
        async with Peer() as peer, BlogServer(dsn) as blog:
            reader = peer.add_actor("reader")
            await reader.post(blog.inbox, reader.follow(blog.actor))
            await peer.wait_for("Accept")
            await blog.post("Före omstarten")
            await peer.wait_for("Create")

            await asyncio.to_thread(database.stop)
            # Meanwhile: clear 5xx answers, and the process stays up
            down = await blog.api.post("/api/v1/posts", json={"markdown": "Under avbrottet"})
            assert down.status_code >= 500 and down.json()["error"]
            refused = await reader.post(blog.inbox, reader.like(f"{blog.base_url}/posts/1"))
            assert refused.status_code >= 500

            database = EmbeddedPostgres(tmp_path)
            await asyncio.to_thread(database.start)
            for _ in range(100):
                response = await blog.api.post("/api/v1/posts", json={"markdown": "Efter omstarten"})
                if response.status_code == 201:
                    break
                await asyncio.sleep(0.2)
            assert response.status_code == 201, response.text
            # The queue workers carry on by themselves: the new post is delivered
            [create] = await peer.wait_for(lambda r: r.type == "Create"
                                           and "Efter omstarten" in str(r.object), timeout=20)
            assert create.signature_valid
            liked = await reader.post(blog.inbox, reader.like(f"{blog.base_url}/posts/1"))
            assert liked.status_code == 202
            await blog.wait_until("SELECT count(*) FROM reactions", expect=1, timeout=20)
    finally:
        database.stop()
