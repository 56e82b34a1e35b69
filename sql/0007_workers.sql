-- Claims belong to a live worker session (issue 14, crash recovery). Each process running the
-- queues keeps a row here and renews `heartbeat_at` every couple of seconds; a claim on an
-- inbox activity or a delivery (`locked_by`) is taken over as soon as its worker's heartbeat is
-- a few seconds old or its row is gone, whatever `locked_until` says. `locked_until` stays as
-- the backstop for a live worker that hangs. Times are the database's clock (now()), so
-- workers on machines with skewed clocks agree.
CREATE TABLE workers (
    id            text PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE inbox_activities ADD COLUMN locked_by text;

-- Retention: finished inbox rows are deleted some days after processing, oldest first.
CREATE INDEX inbox_activities_done_idx ON inbox_activities (processed_at)
    WHERE state IN ('processed', 'ignored', 'failed', 'waiting');
