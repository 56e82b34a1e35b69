"""Splitting a claimed inbox batch into lanes that may run side by side."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from fedblog.inbox import lanes


@dataclass(frozen=True)
class Item:
    id: str
    actor: str
    creates: str | None = None
    refers: tuple[str, ...] = ()


def _links(item: Item) -> lanes.Links:
    return lanes.links_of([item.id, item.creates], item.actor, item.refers)


def _lanes(items: list[Item]) -> list[list[str]]:
    return [[item.id for item in lane] for lane in lanes.split(items, _links)]


def test_unrelated_actors_get_lanes_of_their_own() -> None:
    items = [Item("a1", "alice", refers=("post",)), Item("b1", "bob", refers=("post",)),
             Item("c1", "carol", refers=("post",))]
    # Replies to the same post do not wait for one another.
    assert _lanes(items) == [["a1"], ["b1"], ["c1"]]


def test_one_actors_activities_stay_in_order() -> None:
    items = [Item("f", "alice", refers=("blog",)), Item("x", "bob"),
             Item("u", "alice", refers=("f",))]
    assert _lanes(items) == [["f", "u"], ["x"]]


def test_a_reply_waits_for_the_comment_it_answers_and_a_like_for_what_it_likes() -> None:
    items = [Item("create-a", "alice", creates="note-a", refers=("note-a", "post")),
             Item("create-b", "bob", creates="note-b", refers=("note-b", "note-a")),
             Item("like-c", "carol", refers=("note-b",)),
             Item("dave", "dave", refers=("post",))]
    assert _lanes(items) == [["create-a", "create-b", "like-c"], ["dave"]]


def test_a_reference_to_something_created_later_makes_no_lane() -> None:
    # The reply came before its parent: waiting for a later item would never end.
    items = [Item("create-b", "bob", creates="note-b", refers=("note-a",)),
             Item("create-a", "alice", creates="note-a", refers=("post",))]
    assert _lanes(items) == [["create-b"], ["create-a"]]


_names = st.sampled_from(["n1", "n2", "n3", "n4", "post"])


@given(st.lists(st.tuples(st.sampled_from(["alice", "bob", "carol", "dave"]),
                          st.none() | _names, st.lists(_names, max_size=3)), max_size=30))
def test_lanes_partition_the_batch_and_keep_every_dependency(
        raw: list[tuple[str, str | None, list[str]]]) -> None:
    items = [Item(f"act{i}", actor, creates, tuple(refers))
             for i, (actor, creates, refers) in enumerate(raw)]
    result = lanes.split(items, _links)
    lane_of = {item.id: n for n, lane in enumerate(result) for item in lane}
    assert sorted(lane_of) == sorted(item.id for item in items)  # each item exactly once
    for lane in result:  # arrival order inside each lane
        positions = [items.index(item) for item in lane]
        assert positions == sorted(positions)
    for later, item in enumerate(items):
        for earlier in items[:later]:
            created_by_earlier = {earlier.id, earlier.creates} - {None}
            if earlier.actor == item.actor or created_by_earlier & (set(item.refers) | {item.creates}):
                assert lane_of[earlier.id] == lane_of[item.id]
