-- Blocks of remote actors and whole domains, checked by inbox, delivery, fetching and pages.

CREATE TABLE blocks (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('actor', 'domain')),
    value       text NOT NULL,                    -- the actor URL, or the domain (host[:port])
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    block_sent  boolean NOT NULL DEFAULT false,  -- a Block activity went to the actor (Undo on lift)
    UNIQUE (kind, value)
);

ALTER TABLE blog_settings
    ADD COLUMN send_block_activity boolean NOT NULL DEFAULT true,
    ADD COLUMN comments_per_actor_per_hour integer NOT NULL DEFAULT 30;

-- Activities that must reach a blocked actor (the Reject and Block of the blocking itself).
ALTER TABLE outbox_activities ADD COLUMN reaches_blocked boolean NOT NULL DEFAULT false;
