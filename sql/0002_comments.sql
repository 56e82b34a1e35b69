-- Comments: remote replies (and the author's answers), held for moderation; reactions; reports.

ALTER TABLE blog_settings
    ADD COLUMN moderation_policy text NOT NULL DEFAULT 'hold'
        CHECK (moderation_policy IN ('hold', 'known_commenters', 'followers', 'everyone')),
    ADD COLUMN quote_policy text NOT NULL DEFAULT 'manual'
        CHECK (quote_policy IN ('nobody', 'manual', 'followers', 'everyone'));

CREATE TABLE comments (
    id                 bigserial PRIMARY KEY,
    ap_id              text NOT NULL UNIQUE,          -- the remote object id, or our own URL for answers
    post_id            bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    parent_comment_id  bigint REFERENCES comments (id) ON DELETE SET NULL,
    in_reply_to        text NOT NULL,                 -- the parent's id as the reply named it
    depth              integer NOT NULL DEFAULT 0,
    actor_id           text NOT NULL,
    is_author          boolean NOT NULL DEFAULT false,
    state              text NOT NULL
                       CHECK (state IN ('pending', 'approved', 'rejected', 'spam', 'removed', 'deleted')),
    content_html       text NOT NULL,                 -- sanitised: safe to put in a page
    content_text       text NOT NULL,
    markdown           text,                          -- the author's answers only
    language           text,
    url                text,
    summary            text,
    mentions           jsonb NOT NULL DEFAULT '[]',
    hashtags           text[] NOT NULL DEFAULT '{}',
    attachments        jsonb NOT NULL DEFAULT '[]',
    published_at       timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz,
    received_at        timestamptz NOT NULL DEFAULT now(),
    raw_activity       jsonb,                         -- the signed Create as received (for forwarding)
    has_ld_signature   boolean NOT NULL DEFAULT false,
    sender_ip          text,
    key_id             text,
    approval_token     text UNIQUE                    -- set while approved: /approvals/<token> dereferences
);
CREATE INDEX comments_post_state_idx ON comments (post_id, state, id);
CREATE INDEX comments_state_idx ON comments (state, id DESC);
CREATE INDEX comments_actor_idx ON comments (actor_id);
CREATE INDEX comments_parent_idx ON comments (parent_comment_id);

CREATE TABLE comment_versions (
    id            bigserial PRIMARY KEY,
    comment_id    bigint NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    content_html  text NOT NULL,
    content_text  text NOT NULL,
    updated_at    timestamptz,
    replaced_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE moderation_log (
    id          bigserial PRIMARY KEY,
    comment_id  bigint NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    from_state  text,
    to_state    text NOT NULL,
    decided_by  text NOT NULL,                        -- 'author', 'policy', 'rule:<id>', 'remote'
    reason      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_log_comment_idx ON moderation_log (comment_id, id);

CREATE TABLE moderation_rules (
    id          bigserial PRIMARY KEY,
    pattern     text NOT NULL,
    is_regex    boolean NOT NULL DEFAULT false,
    action      text NOT NULL CHECK (action IN ('hold', 'spam')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Likes and boosts of posts and of the author's answers.
CREATE TABLE reactions (
    id           bigserial PRIMARY KEY,
    activity_id  text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('like', 'announce')),
    actor_id     text NOT NULL,
    object_id    text NOT NULL,                       -- the post's or comment's AS2 id
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, actor_id, object_id)
);
CREATE INDEX reactions_object_idx ON reactions (object_id, kind);

CREATE TABLE reports (
    id             bigserial PRIMARY KEY,
    activity_id    text NOT NULL UNIQUE,
    actor_id       text NOT NULL,
    reporter_host  text NOT NULL,
    content        text,
    object_ids     text[] NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    resolution     text
);

-- Quote requests (FEP-044f, Mastodon 4.5): answered through the moderation queue.
CREATE TABLE quote_requests (
    id                 bigserial PRIMARY KEY,
    activity_id        text NOT NULL UNIQUE,
    actor_id           text NOT NULL,
    post_id            bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    quoting_object_id  text NOT NULL,
    instrument         jsonb,
    state              text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'revoked')),
    token              text UNIQUE,                   -- /quote-authorizations/<token> while approved
    received_at        timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz
);
CREATE INDEX quote_requests_state_idx ON quote_requests (state, id DESC);
