-- What commenters send and earlier versions dropped: the content warning flag, custom emoji
-- (toot:Emoji tags: shortcode and icon URL) and, for attachments, their kind and size.
-- Replies whose parent has not arrived yet wait in the inbox ('waiting', `waiting_for` the
-- parent's id) and are queued again the moment a comment with that id is stored.

ALTER TABLE comments
    ADD COLUMN sensitive boolean NOT NULL DEFAULT false,
    ADD COLUMN emojis    jsonb   NOT NULL DEFAULT '[]';

ALTER TABLE inbox_activities DROP CONSTRAINT inbox_activities_state_check;
ALTER TABLE inbox_activities
    ADD CONSTRAINT inbox_activities_state_check
        CHECK (state IN ('received', 'processed', 'ignored', 'failed', 'waiting')),
    ADD COLUMN waiting_for text;
CREATE INDEX inbox_activities_waiting_idx ON inbox_activities (waiting_for)
    WHERE state = 'waiting';
