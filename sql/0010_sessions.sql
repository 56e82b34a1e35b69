-- The desk's sessions, server-side: the sealed cookie carries a random session id whose
-- SHA-256 is a row here. Logging out deletes the row, so a copied cookie is dead at once;
-- revoking the token the session was opened with ends it too (token_hash).

CREATE TABLE desk_sessions (
    id_hash    bytea       PRIMARY KEY,
    token_hash bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX desk_sessions_expires_idx ON desk_sessions (expires_at);
