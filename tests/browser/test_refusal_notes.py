"""Before a refusal federates, the desk says what it means on the commenter's server: on
GoToSocial a Reject is final (internal/federation/federatingdb/reject.go deletes the reply and a
later Accept finds nothing: tests/peers/gotosocial.py accept_of_reply_ok), and "restore" cannot
bring it back there."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from tests.browser.conftest import log_in, screenshot
from tests.browser.test_desk import _comment_id, _reply
from tests.harness import BlogServer
from tests.peers.peer import Peer

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_the_desk_says_a_reject_is_final_on_gotosocial(
        database_url: str, context: BrowserContext) -> None:
    async with BlogServer(database_url) as blog, Peer(name="gts") as peer:
        post = await blog.post("Ett inlägg", title="Avslag", language="sv")
        note = await _reply(peer.add_actor("gunnar"), blog, post["ap_id"], "<p>Hej</p>")
        comment_id = await _comment_id(blog, note)
        page = await context.new_page()
        await log_in(page, blog)

        # A held reply says, beside its buttons, what rejecting it federates
        item = page.locator(f"#q-{comment_id}")
        await expect(item.locator(".federation-note")).to_contain_text(
            "On GoToSocial that is final")
        await item.get_by_role("button", name="Reject").click()
        [reject] = await peer.wait_for("Reject")
        assert reject.object == note

        # The rejected one says a restore will not bring it back on the commenter's server
        await page.goto(f"{blog.base_url}/desk/?state=rejected")
        item = page.locator(f"#q-{comment_id}")
        await expect(item.get_by_role("button", name="Restore")).to_be_visible()
        await expect(item.locator(".federation-note")).to_contain_text("will not take it back")
        await screenshot(page, "desk-rejected-note")
