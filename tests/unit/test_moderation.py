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


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    """`^(\\w+\\s?)+$` froze the server 11 s on 28 characters under `re` (issue 14); RE2 has no
    backtracking, so 20,000 characters take milliseconds."""
    import time

    from fedblog.blog.moderation import validate_rule

    pattern = r"^(\w+\s?)+$"
    assert validate_rule(pattern, True) is None
    rule = Rule(id=1, pattern=pattern, is_regex=True, action="hold")
    started = time.perf_counter()
    assert not rule.matches("a" * 28 + "!")
    assert not rule.matches("word " * 4000 + "!")
    assert rule.matches("ord ord ord")
    assert time.perf_counter() - started < 0.5


def test_patterns_that_need_backtracking_or_are_huge_are_refused_with_a_reason() -> None:
    from fedblog.blog.moderation import validate_rule

    for pattern, words in ((r"(a)\1", "escape"), ("(?=kasino)", "perl operator"),
                           ("(?<!x)y", "perl operator"), ("a{1000}{1000}", "repetition"),
                           ("x" * 501, "at most 500"), ("a\x00", "NUL"), ("[", "missing")):
        problem = validate_rule(pattern, True)
        assert problem is not None and words in problem, (pattern, problem)
    assert validate_rule("x" * 501, False) is not None
    assert validate_rule(r"kasino|casino\d+", True) is None


def test_rules_match_case_blind_and_survive_a_lone_surrogate_in_the_text() -> None:
    rule = Rule(id=1, pattern=r"kasino\s+\d+", is_regex=True, action="spam")
    assert rule.matches("Billigt KASINO 24 \ud800")
    assert not rule.matches("\x00\udfff")
    # a pattern stored before validation existed is never a crash, just never a match
    assert not Rule(id=2, pattern=r"(a)\1", is_regex=True, action="spam").matches("aa")
