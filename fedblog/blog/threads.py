"""Comment threads, pure: approved comments arranged as the page shows them, numbered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fedblog.models import Comment


@dataclass
class ThreadNode:
    comment: Comment
    number: str                       # "3" for the third top-level comment, "3.1" for its first answer
    children: list[ThreadNode] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return self.number.count(".")


def _descendants(comments: Iterable[Comment], root: int | None) -> list[Comment]:
    """The comments below `root` (None: the post) through their parent links, at any depth,
    oldest first (a parent fetched late may have a larger id than its answers)."""
    children: dict[int | None, list[Comment]] = {}
    for comment in comments:
        children.setdefault(comment.parent_comment_id, []).append(comment)
    found: list[Comment] = []
    reach = list(children.get(root, ()))
    while reach:
        comment = reach.pop()
        found.append(comment)
        reach.extend(children.get(comment.id, ()))
    found.sort(key=lambda c: c.id)
    return found


def visible(approved: Iterable[Comment]) -> list[Comment]:
    """The comments readers and other servers see, oldest first: approved ones whose every
    ancestor is approved too. A comment under a held, rejected or removed parent stays out,
    with all below it (listing it would make Mastodon fetch the refused parent back).
    `approved` is every approved comment of one post, in any order."""
    return _descendants(approved, None)


def below(shown: Iterable[Comment], comment_id: int) -> list[Comment]:
    """The comments among `shown` that answer `comment_id`, at any depth, oldest first."""
    return _descendants(shown, comment_id)


def build_thread(comments: Iterable[Comment]) -> list[ThreadNode]:
    """Top-level comments in order, each with its answers; an answer whose parent is not among
    `comments` is shown at the top level rather than lost (callers pass `visible(...)`, where
    that cannot happen)."""
    ordered = sorted(comments, key=lambda c: c.id)  # arrival order, as a blog shows comments
    shown = {c.id for c in ordered}
    roots: list[ThreadNode] = []
    nodes: dict[int, ThreadNode] = {}
    for comment in ordered:
        parent = nodes.get(comment.parent_comment_id) if comment.parent_comment_id in shown else None
        siblings = parent.children if parent is not None else roots
        prefix = f"{parent.number}." if parent is not None else ""
        node = ThreadNode(comment, f"{prefix}{len(siblings) + 1}")
        siblings.append(node)
        nodes[comment.id] = node
    return roots


def walk(nodes: list[ThreadNode]) -> Iterable[ThreadNode]:
    """Every node, parents before their answers (iterative: a deep chain cannot exhaust the
    stack)."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


@dataclass(frozen=True)
class FlatItem:
    """One comment of a thread in page order: `opens` when its answers follow inside it (the
    item's element stays open around them), `closes` how many such enclosing items end after it."""

    node: ThreadNode
    depth: int
    opens: bool
    closes: int


def flatten(roots: list[ThreadNode]) -> list[FlatItem]:
    """The thread as one list, for a template that loops instead of recursing (iterative, so a
    deep chain of answers cannot exhaust the stack)."""
    found: list[tuple[ThreadNode, int]] = []
    closes: list[int] = []
    stack: list[tuple[list[ThreadNode], int, int]] = [(roots, 0, 0)]   # siblings, next, depth
    while stack:
        siblings, index, depth = stack.pop()
        if index >= len(siblings):
            if depth > 0 and found:           # the answers of an item at depth - 1 end here
                closes[-1] += 1
            continue
        node = siblings[index]
        stack.append((siblings, index + 1, depth))
        found.append((node, depth))
        closes.append(0)
        if node.children:
            stack.append((node.children, 0, depth + 1))
    return [FlatItem(node, depth, bool(node.children), close)
            for (node, depth), close in zip(found, closes, strict=True)]
