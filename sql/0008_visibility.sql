-- Who a remote reply was addressed to (issue 14), by Mastodon's rules
-- (app/lib/activitypub/parser/status_parser.rb `visibility`): the public collection in `to` is
-- 'public', in `cc` 'unlisted', anywhere else (followers-only, direct) 'private'.
-- A private reply is kept for the author's eyes only: it is never approved, so it never enters
-- the page, the counts, the feeds, the replies collections, the context or any delivery. The
-- constraint makes that a property of the data, whatever code path tries to approve one.
ALTER TABLE comments
    ADD COLUMN visibility text NOT NULL DEFAULT 'public'
        CHECK (visibility IN ('public', 'unlisted', 'private')),
    ADD CONSTRAINT comments_private_never_approved
        CHECK (visibility <> 'private' OR state <> 'approved');
