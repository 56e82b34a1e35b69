"""Which claimed activities may be processed side by side, and which must wait for another.

A batch is split into lanes: one actor's activities share a lane (a Follow before its Undo, a
Create before its Update), and so do activities that refer to one another (a reply to a comment
whose Create is in the same batch, a Like of it). Each lane runs in arrival order; lanes run
concurrently. Pure: no I/O, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Links:
    """What one activity is known by (its id, its object's id, its actor) and what it refers to."""

    provides: frozenset[str]
    refers: frozenset[str]


def split(items: Sequence[T], links: Callable[[T], Links]) -> list[list[T]]:
    """Partition `items` (in arrival order) into lanes; each lane keeps arrival order, and the
    lanes come in the order of their first item."""
    union = _UnionFind(len(items))
    owner: dict[str, int] = {}
    item_links = [links(item) for item in items]
    for index, link in enumerate(item_links):
        for name in link.refers | link.provides:
            earlier = owner.get(name)
            if earlier is not None:
                union.join(earlier, index)
        for name in link.provides:
            owner.setdefault(name, index)
    lanes: dict[int, list[T]] = {}
    for index, item in enumerate(items):
        lanes.setdefault(union.find(index), []).append(item)
    return list(lanes.values())


def links_of(ids: Iterable[str | None], actor: str, refers: Iterable[str | None]) -> Links:
    """Links from an activity's own ids, its actor, and the ids it refers to (None skipped)."""
    actor_key = "actor:" + actor
    return Links(frozenset({actor_key, *(i for i in ids if i)}),
                 frozenset(r for r in refers if r))


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, index: int) -> int:
        while self.parent[index] != index:
            self.parent[index] = self.parent[self.parent[index]]
            index = self.parent[index]
        return index

    def join(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

