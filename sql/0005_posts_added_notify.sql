-- A new post changes the front page and its tag pages in every web process (their cached
-- copies are dropped on any fedblog_pages notification; see fedblog/web/pagecache.py).
CREATE FUNCTION fedblog_post_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fedblog_pages', NEW.id::text);
    RETURN NEW;
END $$;

CREATE TRIGGER posts_added AFTER INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION fedblog_post_added();
