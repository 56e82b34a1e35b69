"""What commenters send beside their text — content warning, sensitive media, attachments with
alt text, custom emoji, edits — is kept, returned by the API and shown on the page through the
blog (never hot-linked); the leading @blog mention Mastodon writes is left out of the page."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.harness import BlogServer
from tests.peers.peer import Peer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


async def _image(request: Request) -> Response:
    return Response(PNG, media_type="image/png")


def _peer_with_media() -> Peer:
    peer = Peer(name="mastodon")
    peer.app.router.routes.insert(0, Route("/media/{name}", _image))
    return peer


async def test_content_warning_media_and_emoji_reach_the_page_through_the_blog(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, _peer_with_media() as peer:
        anna = peer.add_actor("anna")
        post = await blog.post("Bilder")
        create = anna.create_note(
            in_reply_to=post["ap_id"], mention=blog.actor,
            content=(f'<p><span class="h-card" translate="no"><a href="{blog.base_url}/"'
                     f' class="u-url mention">@<span>blog</span></a></span> Se här :blob:</p>'))
        note: dict[str, Any] = create["object"]
        note.update(summary="Politik", sensitive=True, updated="2026-12-05T10:00:00Z",
                    attachment=[{"type": "Document", "mediaType": "image/png",
                                 "url": peer.url("/media/bild.png"), "name": "Ett diagram",
                                 "width": 1, "height": 1}])
        note["tag"].append({"type": "Emoji", "name": ":blob:", "id": peer.url("/emoji/blob"),
                            "icon": {"type": "Image", "mediaType": "image/png",
                                     "url": peer.url("/media/blob.png")}})
        assert (await anna.post(blog.inbox, create)).status_code == 202
        await blog.wait_until("SELECT state FROM comments WHERE ap_id = $1", note["id"],
                              expect="pending")
        [listed] = (await blog.api.get("/api/v1/comments")).json()["items"]
        cid = listed["id"]
        # The API keeps what was sent
        assert listed["summary"] == "Politik" and listed["sensitive"] is True
        [attachment] = listed["attachments"]
        assert attachment["name"] == "Ett diagram" and attachment["media_type"] == "image/png"
        assert attachment["proxy_url"] == f"/media/comments/{cid}/attachments/0"
        assert listed["emojis"] == [{"shortcode": "blob", "icon_url": peer.url("/media/blob.png")}]
        assert listed["updated_at"] is not None
        # A held comment's files are not served to the public
        assert (await blog.api.get(attachment["proxy_url"])).status_code == 404

        await blog.api.post(f"/api/v1/comments/{cid}/approve")
        page = (await blog.api.get(post["url"], headers={"Accept": "text/html"})).text
        start = page.index(f'id="comment-{cid}"')
        shown = page[start:page.index("</article>", start)]
        assert '<details class="content-warning"><summary>Politik</summary>' in shown
        assert f'src="{blog.base_url}/media/comments/{cid}/attachments/0"' in shown
        assert 'alt="Ett diagram"' in shown
        assert f'src="{blog.base_url}/media/comments/{cid}/emoji/0"' in shown
        assert peer.base_url not in shown.split("comment-content", 1)[1].split("original")[0]
        assert "@<span>blog</span>" not in shown and "Se här" in shown
        # the stored original keeps the mention
        detail = (await blog.api.get(f"/api/v1/comments/{cid}")).json()
        assert "@<span>blog</span>" in detail["raw_activity"]["object"]["content"]
        # The blog serves the files itself
        for kind in ("attachments", "emoji"):
            served = await blog.api.get(f"/media/comments/{cid}/{kind}/0")
            assert served.status_code == 200 and served.content == PNG
            assert served.headers["content-type"] == "image/png"
        assert (await blog.api.get(f"/media/comments/{cid}/attachments/5")).status_code == 404
