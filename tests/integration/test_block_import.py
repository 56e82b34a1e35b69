"""Issue 14: the domain blocklist import is a background job. The request answers at once with
the job; every row is checked first (a bad line refuses the file, named with its line number);
silence and noop rows are reported, not silently skipped; the blocks go in batched, and the
followers and comments on the imported domains are undone as a block by hand undoes them.

The CSV is Mastodon's export (app/controllers/admin/export_domain_blocks_controller.rb:
`#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate`).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx

from tests.harness import TOKEN, BlogServer

HEADER = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"


async def _wait(blog: BlogServer, location: str) -> dict[str, Any]:
    for _ in range(600):
        job: dict[str, Any] = (await blog.api.get(location)).json()
        if job["state"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the import never ended: {job}")


async def _start(blog: BlogServer, text: str) -> tuple[dict[str, Any], str]:
    response = await blog.api.post("/api/v1/blocks/domains.csv", content=text.encode(),
                                   headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    return response.json(), response.headers["location"]


async def _follower(blog: BlogServer, actor_id: str) -> None:
    async with blog.services.runtime.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO remote_actors (id, host, type, inbox, document)"
            " VALUES ($1, 'as written', 'Person', $1 || '/inbox', '{}')", actor_id)
        await conn.execute("INSERT INTO followers (actor_id, follow_activity_id, state)"
                           " VALUES ($1, $1 || '/follow', 'accepted')", actor_id)


async def _count(blog: BlogServer, query: str) -> int:
    async with blog.services.runtime.db.connection() as conn:
        return int(await conn.fetchval(query))


async def test_a_bad_line_refuses_the_file_and_names_the_line(database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        text = (HEADER + "spam.example,suspend,false,false,Spam,false\n"
                "not a domain!!,suspend,false,false,,false\n"
                "loud.example,silence,false,false,,false\n"
                "odd.example,limit,false,false,,false\n")
        started, location = await _start(blog, text)
        assert location == f"/api/v1/blocks/imports/{started['id']}"
        assert started["total"] == 4 and started["state"] in ("queued", "running", "failed")
        job = await _wait(blog, location)
        assert job["state"] == "failed" and job["imported"] == [] and job["done"] == 0
        assert [e["error"] for e in job["errors"]] == [
            'line 3: not a domain: "not a domain!!"', 'line 5: unknown severity: "limit"']
        assert [e["line"] for e in job["errors"]] == [3, 5]
        assert [(s["line"], s["severity"]) for s in job["skipped"]] == [(4, "silence")]
        assert "silence" in job["skipped"][0]["note"]
        assert await _count(blog, "SELECT count(*) FROM blocks") == 0  # nothing half-imported
        assert (await blog.api.get("/api/v1/blocks/imports/999999")).status_code == 404


async def test_three_thousand_rows_answer_at_once_and_undo_what_a_block_undoes(
        database_url: str) -> None:
    async with BlogServer(database_url, run_workers=False) as blog:
        await _follower(blog, "https://xn--vil-9la.example./users/eve")  # spelt otherwise
        await _follower(blog, "https://social.blocked-7.example/users/sub")
        await _follower(blog, "https://kept.example/users/ok")
        rows = [f"blocked-{i}.example,suspend,false,false,list {i},false" for i in range(2998)]
        rows += ["Évil.example.,suspend,false,false,,false", "quiet.example,noop,false,false,,"]
        text = HEADER + "\n".join(rows) + "\n"

        began = time.monotonic()
        started, location = await _start(blog, text)
        answered = time.monotonic() - began
        job = await _wait(blog, location)
        finished = time.monotonic() - began
        assert started["total"] == 3000 and answered < 2.0
        assert job["state"] == "done", job
        assert job["done"] == job["total"] == 3000 and job["errors"] == []
        assert len(job["imported"]) == 2999 and "xn--vil-9la.example" in job["imported"]
        assert [(s["line"], s["domain"], s["severity"]) for s in job["skipped"]] == [
            (3001, "quiet.example", "noop")]
        assert await _count(blog, "SELECT count(*) FROM blocks WHERE kind = 'domain'") == 2999
        # followers on the imported domains (any spelling, subdomains too) are dropped
        async with blog.services.runtime.db.connection() as conn:
            left = [r["actor_id"] for r in await conn.fetch("SELECT actor_id FROM followers")]
        assert left == ["https://kept.example/users/ok"]
        assert blog.services.blocklist.actor_blocked("https://évil.example/users/x")
        print(f"3,000-row import: answered in {answered:.3f} s, done in {finished:.2f} s")

        # importing the same file again changes nothing and stays one row a domain
        _, again = await _start(blog, text)
        assert (await _wait(blog, again))["state"] == "done"
        assert await _count(blog, "SELECT count(*) FROM blocks WHERE kind = 'domain'") == 2999


async def _desk_login(browser: httpx.AsyncClient) -> str:
    form = await browser.get("/desk/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce
    assert (await browser.post("/desk/login", data={"csrf": nonce.group(1), "token": TOKEN})
            ).status_code == 303
    queue = await browser.get("/desk/")
    found = re.search(r'name="csrf" value="([^"]+)"', queue.text)
    assert found
    return found.group(1)


async def test_the_desk_blocks_a_server_in_its_one_spelling(database_url: str) -> None:
    """Issue 14: "Block the whole server" under a comment from `https://Évil.example./…` offers
    the server in its one spelling, and a server typed in any spelling is that one block."""
    async with BlogServer(database_url, run_workers=False) as blog, \
            httpx.AsyncClient(base_url=blog.base_url) as browser:
        post = await blog.post("Text.")
        async with blog.services.runtime.db.transaction() as conn:
            comment_id = await conn.fetchval(
                "INSERT INTO comments (ap_id, post_id, in_reply_to, actor_id, state, content_html,"
                " content_text, sender_ip, key_id) VALUES ($1, $2, $3, $4, 'pending', '<p>Hej</p>',"
                " 'Hej', '192.0.2.7', $4 || '#main-key') RETURNING id",
                "https://Évil.example./notes/1", post["id"], post["ap_id"],
                "https://Évil.example./users/ann")
        csrf = await _desk_login(browser)
        queue = (await browser.get("/desk/")).text
        assert '<input type="hidden" name="domain" value="xn--vil-9la.example">' in queue

        for spelling in ("Évil.example.", "xn--vil-9la.example", "XN--VIL-9LA.EXAMPLE."):
            done = await browser.post("/desk/blocks", data={"csrf": csrf, "domain": spelling})
            assert done.status_code == 303, done.text
        async with blog.services.runtime.db.connection() as conn:
            values = [r["value"] for r in await conn.fetch("SELECT value FROM blocks")]
            state = await conn.fetchval("SELECT state FROM comments WHERE id = $1", comment_id)
        assert values == ["xn--vil-9la.example"] and state == "rejected"
        refused = await browser.post("/desk/blocks", data={"csrf": csrf,
                                                           "domain": "not a domain!!"})
        assert refused.status_code == 422 and "host name" in refused.text
