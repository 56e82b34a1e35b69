"""The moderation rules, pure: which transitions exist, and what a new comment starts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Protocol, cast

import re2  # linear-time matching: no pattern can make a comment take exponential time


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
            compiled = _compiled(self.pattern)
            # RE2 matches UTF-8: a lone surrogate (possible in JSON) becomes U+FFFD first.
            safe = text.encode("utf-8", "replace").decode("utf-8")
            return compiled is not None and compiled.search(safe) is not None
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


MAX_PATTERN_CHARS = 500
# RE2 compiles a pattern into an automaton of bounded size; a pattern needing more memory
# (e.g. `a{1000}{1000}`) is refused at validation rather than built per comment.
_RE2_MAX_MEM = 8 << 20


class _Pattern(Protocol):
    def search(self, text: str) -> object | None: ...


def _options() -> object:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False     # a refused pattern is a 422, not a line on stderr
    options.max_mem = _RE2_MAX_MEM
    return options


def _compile(pattern: str) -> _Pattern:
    return cast(_Pattern, re2.compile(pattern, _options()))


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> _Pattern | None:
    """Each rule's pattern is compiled once per process, not once per incoming reply."""
    try:
        return _compile(pattern)
    except re2.error:
        return None


def _re2_message(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail) or "not supported"


def validate_rule(pattern: str, is_regex: bool) -> str | None:
    """An error message for an unusable rule, or None. Regular expressions are RE2 syntax
    (matched in time linear in the comment): back-references and look-arounds are refused."""
    if not pattern.strip():
        return "pattern must not be empty"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"pattern must be at most {MAX_PATTERN_CHARS} characters"
    if "\x00" in pattern or any(0xD800 <= ord(c) <= 0xDFFF for c in pattern):
        return "pattern must not contain NUL or lone surrogates"
    if is_regex:
        try:
            _compile(pattern)
        except re2.error as exc:
            return ("pattern is not a regular expression this server can run in linear time "
                    f"(RE2 syntax; no back-references or look-arounds): {_re2_message(exc)}")
    return None
