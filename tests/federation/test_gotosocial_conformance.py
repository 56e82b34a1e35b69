"""What a GoToSocial user sees: the blog's reply approval read by GoToSocial's own rules.

The rules are ported, file and function cited, in tests/peers/gotosocial.py:
- policy parsing of v0.19 (only `always` / `approvalRequired`) and v0.20 (the new names first):
  internal/ap/extract.go ExtractInteractionPolicy / extractPolicyRules;
- who may reply: internal/filter/interaction/interactable.go StatusReplyable / checkPolicy;
- an Accept of a reply at the replier's server: internal/federation/federatingdb/accept.go;
- a fetched reply kept only with an approval it can verify (`approvedBy` = the Accept's `result`
  or, without one, the Accept's id): internal/federation/dereferencing/status_permitted.go;
- ReplyRequest as v0.21 sends it: internal/typeutils/internaltoas.go
  InteractionReqToASInteractionRequestable.
Each runs here against the real blog after a signed conversation.
"""

from __future__ import annotations

from typing import Any

from tests.federation.test_comments import _reply, _wait_comment
from tests.harness import BlogServer
from tests.peers import gotosocial as gts
from tests.peers.peer import Peer

STRANGER = "https://stranger.example/users/someone"


def _policy(doc: dict[str, Any], version: gts.Version, blog: BlogServer) -> gts.Policy | None:
    return gts.parse_policy(doc, version, author_followers=f"{blog.actor}/followers",
                            author_following=f"{blog.actor}/following")


def _may(policy: gts.Policy | None, requester: str, blog: BlogServer, *,
         follows: bool = False, sub: str = "canReply") -> gts.Permission:
    if sub != "canReply":
        assert policy is not None
        rules = policy[sub]
        policy = {"canReply": rules}
    return gts.may_reply(policy, requester, author=blog.actor,
                         requester_follows_author=follows, author_follows_requester=False)


async def test_both_gotosocial_versions_read_the_policy(database_url: str) -> None:
    async with BlogServer(database_url) as blog:
        post = await blog.post("Får jag svara?")
        note = (await blog.fetch_as2(post["ap_id"])).json()
        for version in ("0.19", "0.20"):
            policy = _policy(note, version, blog)
            # Under the default "hold" policy anyone may reply, with the author's approval;
            # a v0.19 server reading only the old names would otherwise forbid it (403).
            assert _may(policy, STRANGER, blog) == "approval_required", version
            # Likes and boosts are open to all.
            assert _may(policy, STRANGER, blog, sub="canLike") == "permitted", version
            assert _may(policy, STRANGER, blog, sub="canAnnounce") == "permitted", version

        await blog.api.patch("/api/v1/settings", json={"moderation_policy": "everyone"})
        note = (await blog.fetch_as2(post["ap_id"])).json()
        for version in ("0.19", "0.20"):
            assert _may(_policy(note, version, blog), STRANGER, blog) == "permitted", version

        await blog.api.patch("/api/v1/settings", json={"moderation_policy": "followers"})
        note = (await blog.fetch_as2(post["ap_id"])).json()
        for version in ("0.19", "0.20"):
            policy = _policy(note, version, blog)
            # A follower matches the followers collection: permitted, but GoToSocial then asks
            # for the approval's proof (status_permitted.go), which the blog sends (below).
            assert gts.check_reply(policy, "https://f.example/users/fan", author=blog.actor,
                                   requester_follows_author=True,
                                   author_follows_requester=False) == ("permitted", "followers")
            assert _may(policy, STRANGER, blog) == "approval_required", version


async def test_an_approved_mastodon_reply_is_verifiable_by_a_third_gotosocial_server(
    database_url: str,
) -> None:
    async with BlogServer(database_url) as blog, Peer(name="mastodon") as mastodon, \
            Peer(name="gotosocial") as third:
        # Given a GoToSocial user following the blog, and a post
        fan = third.add_actor("fan")
        await fan.post(blog.inbox, fan.follow(blog.actor))
        await third.wait_for("Accept")
        post = await blog.post("Vad säger GoToSocial?")
        await third.wait_for("Create")

        # When a Mastodon user replies (no approvedBy: Mastodon knows nothing of it)
        bob = mastodon.add_actor("bob")
        create = await _reply(bob, blog, post["ap_id"], "Hej från Mastodon")
        reply = create["object"]
        comment = await _wait_comment(blog, reply["id"])
        target = (await blog.fetch_as2(post["ap_id"])).json()
        # Then, unapproved, a GoToSocial server fetching it drops it: the post asks approval.
        for version in ("0.19", "0.20"):
            assert not gts.reply_permitted(reply, target, lambda url: None, version=version).kept

        # When the author approves it
        await blog.api.post(f"/api/v1/comments/{comment['id']}/approve")
        # Then the follower's server receives the Accept too, addressed to the public and the
        # followers, as GoToSocial addresses its own (internaltoas.go InteractionReqToASAccept)
        [accept] = await third.wait_for(lambda r: r.type == "Accept" and r.object == reply["id"])
        assert accept.signature_valid, accept.error
        assert accept.activity["cc"] == [gts.PUBLIC, f"{blog.actor}/followers"]
        assert accept.activity["to"] == [bob.id]
        assert accept.activity["target"] == post["ap_id"]
        [to_bob] = await mastodon.wait_for(lambda r: r.type == "Accept")
        assert to_bob.activity == accept.activity

        # And the third server, following accept.go, fetches the reply with approvedBy set to
        # the Accept's result or id, and status_permitted.go verifies it by dereferencing.
        approved_by = accept.activity.get("result") or accept.activity["id"]
        served = await blog.fetch_as2(approved_by)
        assert served.status_code == 200
        documents = {approved_by: served.json()}
        for version in ("0.19", "0.20"):
            verdict = gts.reply_permitted({**reply, "approvedBy": approved_by}, target,
                                          documents.get, version=version)
            assert verdict.kept, (version, verdict.reason)

        # And the replier's own server (were it GoToSocial) takes the Accept as its approval
        for version in ("0.19", "0.20"):
            assert gts.accept_of_reply_ok(accept.activity, accepter_actor_id=blog.actor,
                                          reply_doc=reply, target_doc=target,
                                          version=version) is None

        # When the author withdraws the approval, the approval no longer verifies
        await blog.api.post(f"/api/v1/comments/{comment['id']}/reject")
        assert (await blog.fetch_as2(approved_by)).status_code == 410
        for version in ("0.19", "0.20"):
            verdict = gts.reply_permitted({**reply, "approvedBy": approved_by}, target,
                                          lambda url: None, version=version)
            assert not verdict.kept


async def test_replies_to_an_answer_are_governed_by_its_policy(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="gts") as peer:
        post = await blog.post("Svar på svar")
        alice = peer.add_actor("alice")
        create = await _reply(alice, blog, post["ap_id"], "En fråga")
        comment = await _wait_comment(blog, create["object"]["id"])
        await blog.api.post(f"/api/v1/comments/{comment['id']}/approve")
        answered = await blog.api.post(f"/api/v1/comments/{comment['id']}/replies",
                                       json={"markdown": "Ett svar"})
        assert answered.status_code == 201, answered.text
        answer = (await blog.fetch_as2(answered.json()["ap_id"])).json()
        post_note = (await blog.fetch_as2(post["ap_id"])).json()
        # The answer declares the post's policy (the blog holds replies to it the same way)
        assert answer["interactionPolicy"] == post_note["interactionPolicy"]
        for version in ("0.19", "0.20"):
            assert _may(_policy(answer, version, blog), STRANGER, blog) == "approval_required"
        # The Create of the answer that followers receive carries it too
        [created] = await peer.wait_for(
            lambda r: r.type == "Create" and r.object["id"] == answer["id"])
        assert created.object["interactionPolicy"] == answer["interactionPolicy"]

        # And a reply to the answer is held like a reply to the post
        reply = await _reply(alice, blog, answer["id"], "Svar på svaret")
        await _wait_comment(blog, reply["object"]["id"], state="pending")


async def test_a_reply_request_lands_in_the_queue_and_is_answered(database_url: str) -> None:
    async with BlogServer(database_url) as blog, Peer(name="gts-next") as peer:
        post = await blog.post("Artigt frågat")
        carol = peer.add_actor("carol")
        # Given a GoToSocial v0.21 user asking to reply (the reply Note inlined as instrument)
        note = carol.note(in_reply_to=post["ap_id"], content="<p>Får jag?</p>",
                          mention=blog.actor)
        peer.publish(note)
        request = gts.reply_request_example(
            request_id=carol.new_id("interaction_requests"), actor=carol.id,
            target_status=post["ap_id"], target_author=blog.actor, reply_note=note)
        response = await carol.post(blog.inbox, request)
        assert response.status_code == 202, response.text
        # Then it waits in the same queue as replies
        comment = await _wait_comment(blog, note["id"])
        assert comment["content_text"] == "Får jag?"

        # When the author approves it, the Accept answers the request as GoToSocial expects
        await blog.api.post(f"/api/v1/comments/{comment['id']}/approve")
        [accept] = await peer.wait_for("Accept")
        assert accept.signature_valid, accept.error
        embedded = accept.activity["object"]
        assert embedded["type"] == "ReplyRequest" and embedded["id"] == request["id"]
        assert embedded["instrument"] == note["id"] and embedded["object"] == post["ap_id"]
        assert accept.activity["to"] == [carol.id] and "cc" not in accept.activity
        # (accept.go parseAcceptInteractionRequestable: one id, actor, object, instrument, result)
        verdict = gts.accept_of_reply_ok(accept.activity, accepter_actor_id=blog.actor,
                                         reply_doc=note, target_doc={"attributedTo": blog.actor},
                                         version="0.20")
        assert verdict is not None and verdict.startswith("noop")  # not a 400
        # The result is the ReplyAuthorization that status_permitted.go verifies
        authorization = (await blog.fetch_as2(accept.activity["result"])).json()
        assert authorization["type"] == "ReplyAuthorization"
        target = (await blog.fetch_as2(post["ap_id"])).json()
        documents = {accept.activity["result"]: authorization}
        assert gts.reply_permitted({**note, "approvedBy": accept.activity["result"]}, target,
                                   documents.get, version="0.20").kept

        # And a request whose reply answers something else is refused before it is stored
        stray = carol.note(in_reply_to=f"{blog.base_url}/posts/999999", content="<p>x</p>")
        bad = gts.reply_request_example(
            request_id=carol.new_id("interaction_requests"), actor=carol.id,
            target_status=post["ap_id"], target_author=blog.actor, reply_note=stray)
        refused = await carol.post(blog.inbox, bad)
        assert refused.status_code == 400, refused.text

        # When the author rejects a second request, the Reject names the request
        dave = peer.add_actor("dave")
        other = dave.note(in_reply_to=post["ap_id"], content="<p>Nej?</p>")
        second = gts.reply_request_example(
            request_id=dave.new_id("interaction_requests"), actor=dave.id,
            target_status=post["ap_id"], target_author=blog.actor, reply_note=other)
        assert (await dave.post(blog.inbox, second)).status_code == 202
        held = await _wait_comment(blog, other["id"])
        await blog.api.post(f"/api/v1/comments/{held['id']}/reject")
        [reject] = await peer.wait_for("Reject")
        assert reject.object["type"] == "ReplyRequest" and reject.object["id"] == second["id"]
