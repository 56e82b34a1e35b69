"""Every public URL of the blog, built in one place."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import quote

POST_PATH = re.compile(r"^/posts/(\d+)$")
COMMENT_PATH = re.compile(r"^/comments/(\d+)$")


@dataclass(frozen=True)
class Urls:
    base: str          # "https://blog.example"
    username: str      # "blog"

    @property
    def actor(self) -> str:
        return f"{self.base}/users/{self.username}"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    @property
    def inbox(self) -> str:
        return f"{self.actor}/inbox"

    @property
    def outbox(self) -> str:
        return f"{self.actor}/outbox"

    @property
    def followers(self) -> str:
        return f"{self.actor}/followers"

    @property
    def following(self) -> str:
        return f"{self.actor}/following"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    @property
    def instance_actor(self) -> str:
        return f"{self.base}/actor"

    @property
    def instance_key_id(self) -> str:
        return f"{self.instance_actor}#main-key"

    @property
    def instance_inbox(self) -> str:
        return f"{self.instance_actor}/inbox"

    @property
    def home(self) -> str:
        return f"{self.base}/"

    def post(self, post_id: int) -> str:
        return f"{self.base}/posts/{post_id}"

    def post_replies(self, post_id: int) -> str:
        return f"{self.post(post_id)}/replies"

    def post_likes(self, post_id: int) -> str:
        return f"{self.post(post_id)}/likes"

    def post_shares(self, post_id: int) -> str:
        return f"{self.post(post_id)}/shares"

    def post_context(self, post_id: int) -> str:
        return f"{self.post(post_id)}/context"

    def comment(self, comment_id: int) -> str:
        return f"{self.base}/comments/{comment_id}"

    def approval(self, token: str) -> str:
        """The Accept of a reply, dereferenceable while the approval stands."""
        return f"{self.base}/approvals/{token}"

    def reply_authorization(self, token: str) -> str:
        """The ReplyAuthorization a ReplyRequest's Accept names as its `result`."""
        return f"{self.base}/approvals/{token}/authorization"

    def quote_authorization(self, token: str) -> str:
        return f"{self.base}/quote-authorizations/{token}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{quote(name.lower(), safe='')}"

    def new_activity(self) -> str:
        return f"{self.base}/activities/{uuid.uuid4()}"

    def activity(self, token: str) -> str:
        return f"{self.base}/activities/{token}"

    def post_id_of(self, url: str) -> int | None:
        """The local post a URL names, or None when it is not one of ours."""
        if not url.startswith(self.base + "/"):
            return None
        match = POST_PATH.match(url[len(self.base):].split("#")[0].split("?")[0])
        return int(match.group(1)) if match else None

    def comment_id_of(self, url: str) -> int | None:
        """The local comment (an author's answer) a URL names, or None."""
        if not url.startswith(self.base + "/"):
            return None
        match = COMMENT_PATH.match(url[len(self.base):].split("#")[0].split("?")[0])
        return int(match.group(1)) if match else None
