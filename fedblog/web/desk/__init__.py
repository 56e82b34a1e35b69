"""The moderation desk: the author's pages behind a login, at /desk.

Every action calls the same services as the JSON API, so it federates the same way.
"""

from __future__ import annotations

from fedblog.web.desk import blocks, login, people, posts, queue

routes = [*login.routes, *queue.routes, *blocks.routes, *people.routes, *posts.routes]
