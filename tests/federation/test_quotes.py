"""Quote requests (FEP-044f, as Mastodon 4.5 sends them) answered through the moderation queue."""

from __future__ import annotations

from typing import Any

from tests.harness import BlogServer
from tests.peers.peer import Peer, PeerActor


def _quote_request(actor: PeerActor, post_url: str) -> dict[str, Any]:
    note = actor.note(in_reply_to=None, content=f"<p>Läs detta! RE: {post_url}</p>")
    note["quote"] = post_url
    actor.peer.publish(note)
    return {
        "@context": ["https://www.w3.org/ns/activitystreams",
                     {"QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest"}],
        "id": f"{note['id']}/quote",
        "type": "QuoteRequest",
        "actor": actor.id,
        "object": post_url,
        "instrument": note,
    }


async def test_quote_request_held_approved_then_revoked(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        quoter = peer.add_actor("quoter")
        post = await blog.post("Citera mig")
        note = (await blog.fetch_as2(post["ap_id"])).json()
        assert note["interactionPolicy"]["canQuote"]["manualApproval"] == [
            "https://www.w3.org/ns/activitystreams#Public"]
        request = _quote_request(quoter, post["ap_id"])
        assert (await quoter.post(blog.inbox, request)).status_code == 202
        await blog.wait_until("SELECT state FROM quote_requests", expect="pending")
        [pending] = (await blog.api.get("/api/v1/quote-requests")).json()["items"]
        assert pending["quoting_object_id"] == request["instrument"]["id"]

        approved = await blog.api.post(f"/api/v1/quote-requests/{pending['id']}/approve")
        assert approved.status_code == 200 and approved.json()["state"] == "approved"
        [accept] = await peer.wait_for("Accept")
        assert accept.signature_valid, accept.error
        assert accept.object["type"] == "QuoteRequest" and accept.object["id"] == request["id"]
        stamp = await blog.fetch_as2(accept.activity["result"])
        assert stamp.status_code == 200 and stamp.json()["type"] == "QuoteAuthorization"
        assert stamp.json()["interactingObject"] == request["instrument"]["id"]
        assert stamp.json()["interactionTarget"] == post["ap_id"]

        revoked = await blog.api.post(f"/api/v1/quote-requests/{pending['id']}/revoke")
        assert revoked.json()["state"] == "revoked"
        [delete] = await peer.wait_for("Delete")
        assert delete.signature_valid and delete.object == accept.activity["result"]
        assert (await blog.fetch_as2(accept.activity["result"])).status_code == 410
        again = await blog.api.post(f"/api/v1/quote-requests/{pending['id']}/revoke")
        assert again.status_code == 409


async def test_quote_policy_answers_automatically(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer() as peer:
        quoter = peer.add_actor("quoter")
        post = await blog.post("Policy")
        await blog.api.patch("/api/v1/settings", json={"quote_policy": "nobody"})
        await quoter.post(blog.inbox, _quote_request(quoter, post["ap_id"]))
        [reject] = await peer.wait_for("Reject")
        assert reject.signature_valid and reject.object["type"] == "QuoteRequest"
        await blog.api.patch("/api/v1/settings", json={"quote_policy": "everyone"})
        note = (await blog.fetch_as2(post["ap_id"])).json()
        can_quote = note["interactionPolicy"]["canQuote"]
        assert can_quote["automaticApproval"] == ["https://www.w3.org/ns/activitystreams#Public"]
        assert can_quote["always"] == can_quote["automaticApproval"]
        assert not can_quote["manualApproval"] and not can_quote["approvalRequired"]
        await quoter.post(blog.inbox, _quote_request(quoter, post["ap_id"]))
        [accept] = await peer.wait_for("Accept")
        assert "result" in accept.activity
