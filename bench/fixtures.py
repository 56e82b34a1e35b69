"""Setup written straight into the database (setup, not measurement): followers spread over
hosts, remote actors, posts and threaded comments."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.server import BenchServer


def zipf_counts(n_items: int, n_buckets: int, s: float, rng: random.Random) -> list[int]:
    """`n_items` spread over `n_buckets` Zipf-like (rank k has weight 1/k^s); every bucket gets
    at least one item, so there are exactly `n_buckets` hosts."""
    assert n_items >= n_buckets
    weights = [1 / (k ** s) for k in range(1, n_buckets + 1)]
    counts = [1] * n_buckets
    for index in rng.choices(range(n_buckets), weights=weights, k=n_items - n_buckets):
        counts[index] += 1
    return counts


async def add_followers(server: BenchServer, ports: list[int], n_followers: int, *,
                        s: float = 1.1, seed: int = 7, prefix: str = "f") -> dict[str, Any]:
    """Accepted followers on hosts 127.0.0.1:<port>, all with a shared inbox (as Mastodon,
    Misskey, GoToSocial…): one delivery per host and post."""
    rng = random.Random(seed)
    counts = zipf_counts(n_followers, len(ports), s, rng)
    actors, follows = [], []
    now = datetime.now(UTC)
    n = 0
    for port, count in zip(ports, counts):
        base = f"http://127.0.0.1:{port}"
        for _ in range(count):
            actor_id = f"{base}/users/{prefix}{n}"
            actors.append((actor_id, f"127.0.0.1:{port}", "Person", f"{actor_id}/inbox",
                           f"{base}/inbox", f"{prefix}{n}", f"Follower {n}", actor_id, None,
                           json.dumps({"id": actor_id, "type": "Person"})))
            follows.append((actor_id, f"{actor_id}#follows/1", "accepted", now))
            n += 1
    await server.copy("remote_actors", ["id", "host", "type", "inbox", "shared_inbox",
                                        "preferred_username", "name", "url", "icon_url",
                                        "document"], actors)
    await server.copy("followers", ["actor_id", "follow_activity_id", "state", "accepted_at"],
                      follows)
    return {"followers": n, "hosts": len(ports), "largest_host": max(counts),
            "hosts_with_1": sum(1 for c in counts if c == 1)}


LOREM = ("Thanks for writing this. I disagree with the second point though: federation is not "
         "a cache, it is a conversation, and conversations have latency. ")


async def add_commenters(server: BenchServer, n: int, port: int) -> list[str]:
    base = f"http://127.0.0.1:{port}"
    rows = []
    ids = []
    for i in range(n):
        actor_id = f"{base}/users/c{i}"
        ids.append(actor_id)
        rows.append((actor_id, f"127.0.0.1:{port}", "Person", f"{actor_id}/inbox", f"{base}/inbox",
                     f"c{i}", f"Commenter {i}", f"{base}/@c{i}",
                     f"{base}/avatars/c{i}.png" if i % 3 == 0 else None,
                     json.dumps({"id": actor_id, "type": "Person"})))
    await server.copy("remote_actors", ["id", "host", "type", "inbox", "shared_inbox",
                                        "preferred_username", "name", "url", "icon_url",
                                        "document"], rows)
    return ids


async def add_posts(server: BenchServer, n: int) -> list[int]:
    rows = await server.fetch(
        "INSERT INTO posts (title, markdown, content_html, body_html, content_text, language)"
        " SELECT 'Filler ' || g, 'Filler post ' || g, '<p><strong>Filler ' || g || '</strong></p>',"
        " '<p>Filler post ' || g || '</p>', 'Filler post ' || g, 'en'"
        " FROM generate_series(1, $1) AS g RETURNING id", n)
    return [int(r["id"]) for r in rows]


async def add_comments(server: BenchServer, plan: list[tuple[int, int, str]], actors: list[str],
                       *, seed: int = 11, top_share: float = 0.35, max_depth: int = 8) -> int:
    """`plan`: (post id, how many, state). Approved comments are threaded: a share answers the
    post, the rest answer an earlier approved comment of the same post."""
    rng = random.Random(seed)
    next_id = int(await server.fetchval("SELECT coalesce(max(id), 0) FROM comments")) + 1
    base = server.base
    # half a day away from a whole number of days: the page's relative dates ("3 days ago")
    # must not flip during the run, or every page (and its ETag) would change under the test
    start = datetime.now(UTC) - timedelta(days=3, hours=12)
    rows = []
    by_post: dict[int, list[tuple[int, str, int]]] = {}
    for post_id, count, state in plan:
        post_url = f"{base}/posts/{post_id}"
        visible = by_post.setdefault(post_id, [])
        for _ in range(count):
            cid = next_id
            next_id += 1
            actor = actors[rng.randrange(len(actors))]
            ap_id = f"{actor}/statuses/{cid}"
            parent: tuple[int, str, int] | None = None
            if state == "approved" and visible and rng.random() > top_share:
                parent = visible[rng.randrange(len(visible))]
                if parent[2] >= max_depth:
                    parent = None
            depth = 0 if parent is None else parent[2] + 1
            text = f"Comment {cid}. {LOREM * (1 + cid % 3)}"
            html = f"<p>{text}</p>"
            rows.append((cid, ap_id, post_id, parent[0] if parent else None,
                         parent[1] if parent else post_url, depth, actor, False, state, html, text,
                         "en", ap_id, start + timedelta(seconds=cid)))
            if state == "approved":
                visible.append((cid, ap_id, depth))
    await server.copy("comments", ["id", "ap_id", "post_id", "parent_comment_id", "in_reply_to",
                                   "depth", "actor_id", "is_author", "state", "content_html",
                                   "content_text", "language", "url", "published_at"], rows)
    await server.execute("SELECT setval('comments_id_seq', (SELECT max(id) FROM comments))")
    await server.execute("ANALYZE")
    return len(rows)
