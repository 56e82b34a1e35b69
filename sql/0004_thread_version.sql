-- The post page's validator in O(1): posts.thread_version counts every change of what the page
-- shows (the post, its approved comments, their authors' profiles, the post's likes and boosts),
-- bumped by triggers so that every writer, present and future, keeps it right. Each bump also
-- sends NOTIFY fedblog_pages '<post id>'; changes that touch every page (settings, blocks) send
-- '*'. Web processes cache validators and rendered pages and drop them on these notifications.

ALTER TABLE posts
    ADD COLUMN thread_version bigint NOT NULL DEFAULT 1,
    ADD COLUMN thread_changed_at timestamptz NOT NULL DEFAULT now();

-- Existing posts start from what the old aggregate validator said.
UPDATE posts p SET thread_changed_at = greatest(
    p.published_at, p.updated_at, p.deleted_at,
    (SELECT max(greatest(c.published_at, c.updated_at, c.received_at)) FROM comments c
      WHERE c.post_id = p.id),
    (SELECT max(l.at) FROM moderation_log l JOIN comments c ON c.id = l.comment_id
      WHERE c.post_id = p.id),
    (SELECT max(a.fetched_at) FROM remote_actors a
      WHERE a.id IN (SELECT actor_id FROM comments c WHERE c.post_id = p.id AND c.state = 'approved')));

-- Bump the given posts (in id order, so concurrent bumps of several posts cannot deadlock)
-- and tell the web processes.
CREATE FUNCTION fedblog_bump_threads(ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    post_id bigint;
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    FOR post_id IN
        UPDATE posts SET thread_version = thread_version + 1,
                         thread_changed_at = greatest(clock_timestamp(), thread_changed_at)
        WHERE id IN (SELECT id FROM posts WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE)
        RETURNING id
    LOOP
        PERFORM pg_notify('fedblog_pages', post_id::text);
    END LOOP;
END $$;

-- The post itself: any change but the validator's own columns.
CREATE FUNCTION fedblog_post_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('fedblog_pages', OLD.id::text);
        RETURN OLD;
    END IF;
    IF (NEW.title, NEW.markdown, NEW.content_html, NEW.body_html, NEW.content_text, NEW.summary,
        NEW.language, NEW.hashtags, NEW.published_at, NEW.updated_at, NEW.deleted_at)
       IS DISTINCT FROM
       (OLD.title, OLD.markdown, OLD.content_html, OLD.body_html, OLD.content_text, OLD.summary,
        OLD.language, OLD.hashtags, OLD.published_at, OLD.updated_at, OLD.deleted_at)
       AND NEW.thread_version = OLD.thread_version THEN
        NEW.thread_version := OLD.thread_version + 1;
        NEW.thread_changed_at := greatest(clock_timestamp(), OLD.thread_changed_at);
        PERFORM pg_notify('fedblog_pages', NEW.id::text);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER posts_thread_version BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION fedblog_post_changed();
CREATE TRIGGER posts_thread_deleted AFTER DELETE ON posts
    FOR EACH ROW EXECUTE FUNCTION fedblog_post_changed();

-- Comments: the page shows approved ones, so a change matters when the comment is approved
-- before or after it (held and spam comments arriving in bulk bump nothing).
CREATE FUNCTION fedblog_comments_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT post_id FROM new_rows WHERE state = 'approved'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT post_id FROM old_rows WHERE state = 'approved'));
    ELSE
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT x.post_id FROM old_rows o JOIN new_rows n ON n.id = o.id,
                LATERAL (VALUES (o.post_id), (n.post_id)) AS x (post_id)
            WHERE (o.state = 'approved' OR n.state = 'approved')
              AND (o.post_id, o.state, o.ap_id, o.parent_comment_id, o.in_reply_to, o.depth,
                   o.actor_id, o.is_author, o.content_html, o.content_text, o.markdown,
                   o.language, o.url, o.summary, o.published_at, o.updated_at)
                  IS DISTINCT FROM
                  (n.post_id, n.state, n.ap_id, n.parent_comment_id, n.in_reply_to, n.depth,
                   n.actor_id, n.is_author, n.content_html, n.content_text, n.markdown,
                   n.language, n.url, n.summary, n.published_at, n.updated_at)));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER comments_thread_insert AFTER INSERT ON comments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_comments_changed();
CREATE TRIGGER comments_thread_update AFTER UPDATE ON comments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_comments_changed();
CREATE TRIGGER comments_thread_delete AFTER DELETE ON comments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_comments_changed();

-- Likes and boosts: the page counts those of the post (object id .../posts/<id>), added or
-- undone. Reactions to comments match nothing, or bump a post for nothing: harmless.
CREATE FUNCTION fedblog_reactions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT substring(object_id FROM '/posts/([0-9]{1,18})$')::bigint
            FROM new_rows WHERE object_id ~ '/posts/[0-9]{1,18}$'));
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT substring(object_id FROM '/posts/([0-9]{1,18})$')::bigint
            FROM old_rows WHERE object_id ~ '/posts/[0-9]{1,18}$'));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER reactions_thread_insert AFTER INSERT ON reactions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_reactions_changed();
CREATE TRIGGER reactions_thread_update AFTER UPDATE ON reactions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_reactions_changed();
CREATE TRIGGER reactions_thread_delete AFTER DELETE ON reactions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_reactions_changed();

-- Commenters' profiles as the page shows them (name, handle, avatar, link): a refresh that
-- changes one bumps every post the actor has an approved comment on.
CREATE FUNCTION fedblog_actors_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT c.post_id FROM comments c JOIN new_rows n ON n.id = c.actor_id
            WHERE c.state = 'approved'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT c.post_id FROM comments c JOIN old_rows o ON o.id = c.actor_id
            WHERE c.state = 'approved'));
    ELSE
        PERFORM fedblog_bump_threads(ARRAY(
            SELECT DISTINCT c.post_id FROM comments c
            JOIN (SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id
                  WHERE (o.host, o.type, o.preferred_username, o.name, o.url, o.icon_url)
                        IS DISTINCT FROM
                        (n.host, n.type, n.preferred_username, n.name, n.url, n.icon_url)) AS changed
              ON changed.id = c.actor_id
            WHERE c.state = 'approved'));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER remote_actors_thread_insert AFTER INSERT ON remote_actors
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_actors_changed();
CREATE TRIGGER remote_actors_thread_update AFTER UPDATE ON remote_actors
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_actors_changed();
CREATE TRIGGER remote_actors_thread_delete AFTER DELETE ON remote_actors
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_actors_changed();

-- What every page shows or filters by: the blog's settings, the block list.
CREATE FUNCTION fedblog_pages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fedblog_pages', '*');
    RETURN NULL;
END $$;

CREATE TRIGGER blog_settings_pages AFTER INSERT OR UPDATE OR DELETE ON blog_settings
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_pages_changed();
CREATE TRIGGER blocks_pages AFTER INSERT OR UPDATE OR DELETE ON blocks
    FOR EACH STATEMENT EXECUTE FUNCTION fedblog_pages_changed();
