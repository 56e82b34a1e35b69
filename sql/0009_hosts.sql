-- One spelling of a host (issue 14): blocks are matched in the spelling of federation/hosts.py
-- (IDNA A-labels, lower case, no trailing dot, no default port), which the block list applies
-- to stored values as it loads them; what SQL can spell is rewritten here as well, so a later
-- block of the same domain meets the row already there.
UPDATE blocks b SET value = t.spelt
  FROM (SELECT DISTINCT ON (rtrim(lower(value), '.')) id, rtrim(lower(value), '.') AS spelt
          FROM blocks WHERE kind = 'domain' AND value <> rtrim(lower(value), '.')
         ORDER BY rtrim(lower(value), '.'), id) t
 WHERE b.id = t.id
   AND NOT EXISTS (SELECT 1 FROM blocks o WHERE o.kind = 'domain' AND o.value = t.spelt);

-- Domain blocklist imports run as a job: the request answers at once with the job's id, and
-- any process can report the job's progress, its refused lines and the rows it did not apply.
CREATE TABLE block_imports (
    id           bigserial PRIMARY KEY,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total        integer NOT NULL,                 -- data rows in the file
    done         integer NOT NULL DEFAULT 0,       -- rows checked and written so far
    errors       jsonb NOT NULL DEFAULT '[]',      -- [{line, error}]: nothing imported when any
    skipped      jsonb NOT NULL DEFAULT '[]',      -- [{line, domain, severity, note}]
    imported     jsonb NOT NULL DEFAULT '[]',      -- the domains blocked, in their one spelling
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
