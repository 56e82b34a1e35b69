"""Threading of approved comments (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fedblog.blog.threads import build_thread, walk
from fedblog.models import Comment

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _comment(cid: int, parent: int | None, minute: int, author: bool = False) -> Comment:
    return Comment(
        id=cid, ap_id=f"https://x.example/{cid}", post_id=1, parent_comment_id=parent,
        in_reply_to="", depth=0, actor_id="https://x.example/u", is_author=author,
        state="approved", content_html="", content_text=str(cid), markdown=None, language=None,
        url=None, published_at=T0 + timedelta(minutes=minute), updated_at=None,
        approval_token=None, has_ld_signature=False,
    )


def test_numbers_follow_the_page_order_and_nesting() -> None:
    comments = [_comment(1, None, 0), _comment(2, None, 1), _comment(3, 1, 2, author=True),
                _comment(4, 3, 3), _comment(5, 1, 4), _comment(6, None, 5)]
    roots = build_thread(reversed(comments))
    numbers = {node.comment.id: node.number for node in walk(roots)}
    assert numbers == {1: "1", 3: "1.1", 4: "1.1.1", 5: "1.2", 2: "2", 6: "3"}
    assert [n.comment.id for n in walk(roots)] == [1, 3, 4, 5, 2, 6]
    assert max(n.depth for n in walk(roots)) == 2


def test_an_answer_whose_parent_is_hidden_is_not_lost() -> None:
    roots = build_thread([_comment(2, 99, 0), _comment(3, None, 1)])
    assert [n.number for n in roots] == ["1", "2"]
