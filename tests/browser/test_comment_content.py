"""A reader and the author in a real browser: a commenter's content warning is collapsed until
clicked, their image is shown through the blog (loaded, with its alt text), and a reply under a
held comment waits in the desk saying so."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import log_in, screenshot
from tests.federation.test_remote_content import _peer_with_media
from tests.harness import BlogServer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_content_warning_image_and_held_answer(database_url: str,
                                                     context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, _peer_with_media() as peer:
        anna, berit = peer.add_actor("anna"), peer.add_actor("berit")
        post = await blog.post("Bilder från mötet", title="Mötet", language="sv")
        create = anna.create_note(in_reply_to=post["ap_id"], mention=blog.actor,
                                  content="<p>Här är protokollet.</p>")
        create["object"].update(summary="Långt protokoll", attachment=[
            {"type": "Document", "mediaType": "image/png", "url": peer.url("/media/p.png"),
             "name": "Första sidan"}])
        assert (await anna.post(blog.inbox, create)).status_code == 202
        await blog.wait_until("SELECT count(*) FROM comments", expect=1)
        [first] = (await blog.api.get("/api/v1/comments")).json()["items"]
        # a reply to it while it is held: taken, and held with it
        answer = berit.create_note(in_reply_to=create["object"]["id"], content="<p>Tack!</p>")
        assert (await berit.post(blog.inbox, answer)).status_code == 202
        await blog.wait_until("SELECT count(*) FROM comments", expect=2)
        listed = (await blog.api.get("/api/v1/comments")).json()["items"]
        held = next(c for c in listed if c["id"] != first["id"])

        page = await context.new_page()
        await log_in(page, blog)
        card = page.locator(f"#q-{held['id']}")
        await expect(card).to_contain_text("stays held until that one is approved")
        await screenshot(page, "desk-held-under-held")

        await blog.api.post(f"/api/v1/comments/{first['id']}/approve")
        await page.goto(post["url"])
        comment = page.locator(f"#comment-{first['id']}")
        text = comment.get_by_text("Här är protokollet.")
        await expect(text).to_be_hidden()
        await comment.get_by_text("Långt protokoll").click()
        await expect(text).to_be_visible()
        image = comment.get_by_role("img", name="Första sidan")
        await expect(image).to_be_visible()
        await page.wait_for_function(
            "id => { const i = document.querySelector(`#comment-${id} .attachments img`);"
            " return i && i.complete && i.naturalWidth === 1; }", arg=first["id"])
        assert (await image.get_attribute("src") or "").startswith(f"{blog.base_url}/media/")
        await screenshot(page, "post-content-warning-open")
