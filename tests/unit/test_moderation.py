"""The pure moderation decision: rules first, then a held parent, then the author's policy."""

from __future__ import annotations

from fedblog.blog.moderation import Commenter, Rule, initial_state

FOLLOWER = Commenter(is_follower=True, has_approved_comment=True)


def test_a_reply_under_a_comment_that_is_not_visible_is_held_whatever_the_policy() -> None:
    for parent in ("pending", "rejected", "spam", "removed", "deleted"):
        decision = initial_state("everyone", [], "Hej", FOLLOWER, parent)
        assert (decision.state, decision.decided_by) == ("pending", "parent")
        assert parent in decision.reason
    assert initial_state("everyone", [], "Hej", FOLLOWER).state == "approved"


def test_rules_still_come_first_under_a_held_parent() -> None:
    spam = Rule(id=1, pattern="kasino", is_regex=False, action="spam")
    assert initial_state("everyone", [spam], "Billigt kasino", FOLLOWER, "pending").state == "spam"
