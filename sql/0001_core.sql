-- The federating core: the blog's own keys and settings, posts, remote actors
-- and their keys, followers, the inbound activity log and the delivery queue.

CREATE TABLE local_keys (
    name            text PRIMARY KEY,            -- 'blog' or 'instance'
    private_key_pem text NOT NULL,
    public_key_pem  text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blog_settings (
    id                           boolean PRIMARY KEY DEFAULT true CHECK (id),
    display_name                 text NOT NULL DEFAULT 'fedblog',
    summary                      text NOT NULL DEFAULT '',
    icon_url                     text,
    manually_approves_followers  boolean NOT NULL DEFAULT false,
    discoverable                 boolean NOT NULL DEFAULT true,
    followers_visible            boolean NOT NULL DEFAULT false,
    default_language             text NOT NULL DEFAULT 'en'
);
INSERT INTO blog_settings DEFAULT VALUES;

CREATE TABLE api_tokens (
    id          bigserial PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,           -- sha256 of the token; the token itself is never stored
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE posts (
    id            bigserial PRIMARY KEY,
    title         text,
    markdown      text NOT NULL,
    content_html  text NOT NULL,                 -- what federates: the title leads the text
    body_html     text NOT NULL,                 -- the text alone, for the web page under its <h1>
    content_text  text NOT NULL,
    summary       text,                          -- content warning, shown by Mastodon before the text
    language      text NOT NULL,
    hashtags      text[] NOT NULL DEFAULT '{}',
    published_at  timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    deleted_at    timestamptz
);
CREATE INDEX posts_published_idx ON posts (published_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_hashtags_idx ON posts USING gin (hashtags);

CREATE TABLE remote_actors (
    id             text PRIMARY KEY,             -- the actor's URL
    host           text NOT NULL,
    type           text NOT NULL,
    inbox          text NOT NULL,
    shared_inbox   text,
    preferred_username text,
    name           text,
    url            text,
    icon_url       text,
    document       jsonb NOT NULL,
    fetched_at     timestamptz NOT NULL DEFAULT now(),
    gone_at        timestamptz                   -- answered 410 or sent Delete of itself
);
CREATE INDEX remote_actors_host_idx ON remote_actors (host);

CREATE TABLE remote_keys (
    key_id          text PRIMARY KEY,
    actor_id        text NOT NULL,
    public_key_pem  text NOT NULL,
    fetched_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX remote_keys_actor_idx ON remote_keys (actor_id);

CREATE TABLE followers (
    actor_id            text PRIMARY KEY REFERENCES remote_actors (id) ON DELETE CASCADE,
    follow_activity_id  text NOT NULL,
    state               text NOT NULL CHECK (state IN ('pending', 'accepted')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    accepted_at         timestamptz
);
CREATE INDEX followers_state_idx ON followers (state);

-- Every activity the inbox accepted, stored before the 202 and processed afterwards.
CREATE TABLE inbox_activities (
    id            bigserial PRIMARY KEY,
    activity_id   text NOT NULL UNIQUE,
    actor_id      text NOT NULL,
    type          text NOT NULL,
    body          jsonb NOT NULL,
    key_id        text NOT NULL,
    sender_ip     text,
    received_at   timestamptz NOT NULL DEFAULT now(),
    state         text NOT NULL DEFAULT 'received'
                  CHECK (state IN ('received', 'processed', 'ignored', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    processed_at  timestamptz,
    error         text
);
CREATE INDEX inbox_activities_todo_idx ON inbox_activities (id) WHERE state = 'received';

-- Activities the blog published; served at their id and referenced by deliveries.
CREATE TABLE outbox_activities (
    id            bigserial PRIMARY KEY,
    activity_id   text NOT NULL UNIQUE,
    type          text NOT NULL,
    object_id     text,
    body          jsonb NOT NULL,
    signer        text NOT NULL DEFAULT 'blog',  -- which local key signs its deliveries
    public        boolean NOT NULL DEFAULT true,  -- listed in the outbox collection
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_activities_public_idx ON outbox_activities (id DESC) WHERE public;

-- One row per (activity, inbox): the durable delivery queue.
CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    activity         bigint NOT NULL REFERENCES outbox_activities (id) ON DELETE CASCADE,
    inbox            text NOT NULL,
    host             text NOT NULL,
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    locked_by        text,
    last_status      integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (activity, inbox)
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE state = 'queued';

-- What we know about each remote host: which signature scheme it accepts and
-- whether it is paused by the circuit breaker.
CREATE TABLE hosts (
    host                  text PRIMARY KEY,
    signature_scheme      text NOT NULL DEFAULT 'cavage' CHECK (signature_scheme IN ('cavage', 'rfc9421')),
    consecutive_failures  integer NOT NULL DEFAULT 0,
    paused_until          timestamptz,
    last_success_at       timestamptz,
    last_failure_at       timestamptz
);
