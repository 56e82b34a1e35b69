"""The moderation rules, pure: which transitions exist, and what a new comment starts as."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    APPROVE = "approve"
    REJECT = "reject"
    SPAM = "spam"
    REMOVE = "remove"
    RESTORE = "restore"


# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[str], str]] = {
    Action.APPROVE: (frozenset({"pending", "spam", "rejected"}), "approved"),
    Action.REJECT: (frozenset({"pending", "approved", "spam"}), "rejected"),
    Action.SPAM: (frozenset({"pending", "approved", "rejected"}), "spam"),
    Action.REMOVE: (frozenset({"approved", "pending"}), "removed"),
    Action.RESTORE: (frozenset({"rejected", "spam", "removed"}), "approved"),
}


VISIBLE = "approved"


class TransitionError(ValueError):
    """The comment's state does not allow that action."""


def next_state(current: str, action: Action) -> str:
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise TransitionError(f"cannot {action.value} a comment that is {current}")
    return target


@dataclass(frozen=True)
class Rule:
    id: int
    pattern: str
    is_regex: bool
    action: str           # 'hold' or 'spam'

    def matches(self, text: str) -> bool:
        if self.is_regex:
            try:
                return re.search(self.pattern, text, re.IGNORECASE) is not None
            except re.error:
                return False
        return self.pattern.casefold() in text.casefold()


@dataclass(frozen=True)
class Decision:
    state: str
    decided_by: str
    reason: str


@dataclass(frozen=True)
class Commenter:
    is_follower: bool
    has_approved_comment: bool


def initial_state(policy: str, rules: list[Rule], text: str, commenter: Commenter,
                  parent_state: str = VISIBLE) -> Decision:
    """Rules first (they hold or mark spam regardless); a reply under a comment that is not
    visible is held whatever the policy (it may be approved only after its parent); then the
    author's policy."""
    for rule in rules:
        if rule.matches(text):
            state = "spam" if rule.action == "spam" else "pending"
            return Decision(state, f"rule:{rule.id}", f"matched {rule.pattern!r}")
    if parent_state != VISIBLE:
        return Decision("pending", "parent", f"held: it answers a comment that is {parent_state}")
    if policy == "everyone":
        return Decision("approved", "policy", "the policy approves every comment")
    if policy == "followers" and commenter.is_follower:
        return Decision("approved", "policy", "the commenter follows the blog")
    if policy == "known_commenters" and commenter.has_approved_comment:
        return Decision("approved", "policy", "the commenter has an approved comment")
    return Decision("pending", "policy", "held for the author")


def validate_rule(pattern: str, is_regex: bool) -> str | None:
    """An error message for an unusable rule, or None."""
    if not pattern.strip():
        return "pattern must not be empty"
    if is_regex:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"pattern is not a valid regular expression: {exc}"
    return None
