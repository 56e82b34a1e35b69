"""The author at the desk, in a real browser: a signed reply from another server waits in the
queue, is approved with one click and appears in its place in the thread; a commenter is
blocked from the desk and their server receives the Block; hostile comment HTML runs nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Dialog, expect

from tests.browser.conftest import log_in, screenshot
from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor

pytestmark = pytest.mark.asyncio(loop_scope="module")

POST = """Vi har pratat om att flytta bloggen till fediversum. Här är planen.

## Varför

> Kommentarer ska gå att skriva från vilken server som helst.

Läs mer på [projektets sida](https://example.org/plan). #fediverse #blogg
"""


async def _reply(actor: PeerActor, blog: BlogServer, parent: str, html: str) -> str:
    create = actor.create_note(in_reply_to=parent, content=html, mention=blog.actor)
    response = await actor.post(blog.inbox, create)
    assert response.status_code == 202, response.text
    note_id: str = create["object"]["id"]
    await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", note_id,
                          expect="pending")
    return note_id


async def _comment_id(blog: BlogServer, ap_id: str) -> int:
    async with blog.services.runtime.db.connection() as conn:
        return int(await conn.fetchval("SELECT id FROM comments WHERE ap_id = $1", ap_id))


async def _approved_thread(blog: BlogServer, peer: Peer) -> dict[str, Any]:
    """A Swedish post with one approved comment, and a pending answer to that comment."""
    post = await blog.post(POST, title="Bloggen flyttar", language="sv")
    anna, bertil = peer.add_actor("anna"), peer.add_actor("bertil")
    anna.display_name, bertil.display_name = "Anna Lind", "Bertil Ek"
    first = await _reply(anna, blog, post["ap_id"], "<p>Äntligen! Hur gör man för att svara?</p>")
    first_id = await _comment_id(blog, first)
    assert (await blog.api.post(f"/api/v1/comments/{first_id}/approve")).status_code == 200
    second = await _reply(bertil, blog, first, "<p>Man skriver sin adress i rutan, "
                                               "så öppnar ens egen server inlägget.</p>")
    return {"post": post, "anna": anna, "bertil": bertil, "first_id": first_id,
            "second": second, "second_id": await _comment_id(blog, second)}


async def test_approve_from_the_queue_puts_the_reply_in_its_place(
        database_url: str, context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, Peer(name="umea") as peer:
        # Given a pending reply, from a signed peer, to an approved comment
        setup = await _approved_thread(blog, peer)
        bertil: PeerActor = setup["bertil"]
        page = await context.new_page()

        # When the author logs in, the queue shows it with its context and provenance
        await log_in(page, blog)
        item = page.locator(f"#q-{setup['second_id']}")
        await expect(item).to_contain_text("Man skriver sin adress i rutan")
        await expect(item.locator(".context")).to_contain_text("Äntligen! Hur gör man")
        await expect(item.locator(".context")).to_contain_text("Bloggen flyttar")
        await expect(item).to_contain_text("Bertil Ek")
        await expect(item.locator(".sender-ip")).to_have_text("127.0.0.1")
        await expect(item.locator(".key-id")).to_have_text(bertil.key_id)
        await expect(item).to_contain_text(peer.host)
        await screenshot(page, "desk-queue")

        # and one click approves it
        await item.get_by_role("button", name="Approve").click()
        await expect(page.locator(".notice")).to_contain_text("Approved")
        assert await blog.wait_until("SELECT state FROM comments WHERE id = $1",
                                     setup["second_id"], expect="approved")
        [accept] = await peer.wait_for(lambda r: r.type == "Accept"
                                       and r.object == setup["second"])
        assert accept.signature_valid
        await expect(page.locator(f"#q-{setup['second_id']}")).to_have_count(0)

        # Then the public page shows it as the first answer to the first comment
        await page.goto(setup["post"]["url"])
        answer = page.locator(f"#comment-{setup['first_id']} > ul.answers > "
                              f"li#comment-{setup['second_id']}")
        await expect(answer).to_have_attribute("data-number", "1.1")
        await expect(answer).to_contain_text("Man skriver sin adress i rutan")
        await expect(answer.locator(".name")).to_have_text("Bertil Ek")
        await expect(answer.locator("time")).to_have_attribute("title", re.compile(r"UTC$"))
        await expect(page.locator(".comment-count")).to_have_text("2")
        await expect(page.locator("html")).to_have_attribute("lang", "sv")
        await expect(page.get_by_role("heading", name="Svara från ditt fediversum-konto")) \
            .to_be_visible()
        await screenshot(page, "post-page")
        await page.goto(blog.base_url + "/")
        await expect(page.locator(".post-card")).to_contain_text("2 kommentarer")
        await screenshot(page, "front-page")


async def test_block_a_commenter_from_the_desk(database_url: str,
                                               context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, Peer(name="spam") as peer:
        setup = await _approved_thread(blog, peer)
        bertil: PeerActor = setup["bertil"]
        page = await context.new_page()
        await log_in(page, blog)

        # When the author blocks the commenter from his queue item
        item = page.locator(f"#q-{setup['second_id']}")
        await item.locator("summary", has_text="Block…").click()
        await item.get_by_label("Reason (for you)").fill("tjatig")
        await item.get_by_role("button", name=f"Block @bertil@{peer.host}").click()
        await expect(page.locator(".notice")).to_contain_text("Blocked")

        # Then his server receives a verifiable Block, his comment is rejected,
        # and the block is listed, and can be lifted from the desk
        [block] = await peer.wait_for("Block")
        assert block.signature_valid and block.object == bertil.id
        assert await blog.wait_until("SELECT state FROM comments WHERE id = $1",
                                     setup["second_id"], expect="rejected")
        await page.goto(f"{blog.base_url}/desk/blocks")
        row = page.locator("tr.block-row", has_text=bertil.id)
        await expect(row).to_contain_text("tjatig")
        await screenshot(page, "desk-blocks")
        await row.get_by_role("button", name="Unblock").click()
        await expect(page.locator(".notice")).to_contain_text("Block lifted")
        await expect(page.locator("tr.block-row")).to_have_count(0)
        assert await blog.wait_until("SELECT count(*) FROM blocks", expect=0) == 0


HOSTILE = ('<p>Hej<script>alert("script")</script><img src=x onerror="alert(\'img\')">'
           '<a href="javascript:alert(\'href\')">klicka</a> <a href="#" onclick="alert(\'click\')">'
           'här</a><svg onload="alert(\'svg\')"></svg><iframe src="javascript:alert(1)"></iframe>'
           '<style>body{display:none}</style><b onmouseover="alert(\'hover\')">fet</b></p>')


async def test_hostile_comment_html_runs_no_script(database_url: str,
                                                   context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, Peer(name="evil") as peer:
        post = await blog.post("Kommentera gärna.", title="Öppet", language="sv")
        mallory = peer.add_actor("mallory")
        mallory.display_name = '<img src=x onerror="alert(\'name\')">Mallory'
        shown = await _reply(mallory, blog, post["ap_id"], HOSTILE)
        held = await _reply(mallory, blog, post["ap_id"], HOSTILE.replace("Hej", "Igen"))
        approved = await blog.api.post(f"/api/v1/comments/{await _comment_id(blog, shown)}/approve")
        assert approved.status_code == 200
        dialogs: list[str] = []
        page = await context.new_page()

        def record(dialog: Dialog) -> None:
            dialogs.append(dialog.message)

        page.on("dialog", record)

        # The public page: the comment's text is there, nothing of it runs
        response = await page.goto(post["url"])
        assert response is not None
        assert "default-src 'none'" in response.headers["content-security-policy"]
        comment = page.locator(".comment-content").first
        await expect(comment).to_contain_text("Hej")
        await expect(page.locator("body")).to_be_visible()
        for name in ("klicka", "här", "fet"):
            await comment.get_by_text(name).hover()
        await comment.get_by_text("här").click()
        await comment.get_by_text("klicka").click(no_wait_after=True)
        await page.wait_for_timeout(300)
        assert await page.evaluate(
            "document.querySelectorAll('script, iframe, svg, style, [onerror], [onclick],"
            " [onload], [onmouseover], a[href^=javascript]').length") == 0
        assert await page.locator(".comment .name").first.inner_text() == \
            mallory.display_name

        # The desk: the held copy is shown to the author, and runs nothing either
        await log_in(page, blog)
        held_item = page.locator(f"#q-{await _comment_id(blog, held)}")
        await expect(held_item).to_contain_text("Igen")
        await held_item.get_by_text("fet").hover()
        await page.wait_for_timeout(300)
        assert dialogs == []


async def test_write_preview_edit_and_delete_a_post(database_url: str,
                                                    context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, Peer(name="readers") as peer:
        reader = peer.add_actor("reader")
        await reader.post(blog.inbox, reader.follow(blog.actor))
        await peer.wait_for("Accept")
        page = await context.new_page()
        await log_in(page, blog)

        # The author writes in Markdown and previews before publishing
        await page.get_by_role("link", name="Posts").click()
        await page.get_by_role("link", name="Write a post").click()
        await page.get_by_label("Title").fill("Från skrivbordet")
        await page.get_by_label("Text (Markdown").fill(
            "Skrivet i **webbläsaren**.\n\n> Ett citat\n\n#skrivbord")
        await page.get_by_label("Language").fill("sv")
        await page.get_by_role("button", name="Preview").click()
        preview = page.locator(".preview")
        await expect(preview.locator("strong")).to_have_text("webbläsaren")
        await expect(preview.locator("blockquote")).to_contain_text("Ett citat")
        await expect(page.get_by_label("Title")).to_have_value("Från skrivbordet")
        await screenshot(page, "desk-editor")
        assert peer.accepted("Create") == []
        await page.get_by_role("button", name="Publish").click()
        await expect(page.locator(".notice")).to_contain_text("Published")
        [create] = await peer.wait_for("Create")
        assert create.signature_valid and "<strong>webbläsaren</strong>" in \
            create.object["content"]

        # edits it (followers get an Update) and deletes it (a Delete)
        await page.locator("tr", has_text="Från skrivbordet").get_by_role(
            "link", name="Edit").click()
        await page.get_by_label("Text (Markdown").fill("Ändrad text.")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator(".notice")).to_contain_text("Saved")
        [update] = await peer.wait_for("Update")
        assert "Ändrad text." in update.object["content"]
        await page.locator("tr", has_text="Från skrivbordet").get_by_role(
            "link", name="Delete").click()
        await page.get_by_role("button", name="Delete the post").click()
        await expect(page.locator(".notice")).to_contain_text("Deleted")
        [delete] = await peer.wait_for("Delete")
        assert delete.signature_valid and delete.object_id == create.object["id"]
        assert (await blog.api.get(create.object["id"], headers={"Accept": "text/html"})) \
            .status_code == 410


async def test_follow_requests_and_reports_from_the_desk(database_url: str,
                                                        context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, Peer(name="folk") as peer, \
            Peer(name="troll") as trolls:
        await blog.api.patch("/api/v1/settings", json={"manually_approves_followers": True})
        fan, troll = peer.add_actor("fan"), trolls.add_actor("troll")
        await fan.post(blog.inbox, fan.follow(blog.actor))
        await blog.wait_until("SELECT count(*) FROM followers WHERE state = 'pending'", expect=1)
        post = await blog.post("Rapportera gärna.", language="sv")
        note = await _reply(troll, blog, post["ap_id"], "<p>Elakt</p>")
        flag = {"@context": "https://www.w3.org/ns/activitystreams", "type": "Flag",
                "id": fan.new_id("flags"), "actor": fan.id, "content": "Hets",
                "object": [troll.id, note]}
        assert (await fan.post(blog.inbox, flag)).status_code == 202
        await blog.wait_until("SELECT count(*) FROM reports", expect=1)
        page = await context.new_page()
        await log_in(page, blog)

        # A held follow request is accepted from the desk: the follower's server is told
        await page.get_by_role("link", name="Followers").click()
        await page.locator("li", has_text=f"@fan@{peer.host}").get_by_role(
            "button", name="Accept").click()
        await expect(page.locator(".notice")).to_contain_text("accepted")
        [accept] = await peer.wait_for("Accept")
        assert accept.signature_valid and accept.object["actor"] == fan.id
        await expect(page.get_by_role("heading", name="Following the blog (1)")).to_be_visible()

        # A report names the troll's comment; one click blocks the troll
        await page.get_by_role("link", name="Reports").click()
        report = page.locator(".report-item", has_text="Hets")
        await expect(report).to_contain_text("Elakt")
        await report.get_by_role("button", name="Block the reported accounts").click()
        await expect(page.locator(".notice")).to_contain_text("Blocked the reported")
        [block] = await trolls.wait_for("Block")
        assert block.signature_valid and block.object == troll.id
        await expect(page.locator(".report-item")).to_have_count(0)
