-- The live stream tells viewers what was removed: a deleted comment (`comment_delete`) and a
-- video that was deleted or made private (`video_gone`), each written in the transaction of the
-- change. Values appended at the end of the ENUM only, so MariaDB changes the definition in
-- place (no copy of the table) and the existing rows keep their numbers.
--
-- An api node that predates this migration cannot read the two kinds; see ARCHITECTURE.md,
-- "Live updates", for what a rolling upgrade needs.
ALTER TABLE live_events
    MODIFY kind ENUM('danmaku', 'danmaku_delete', 'comment', 'comment_delete', 'video_gone')
        NOT NULL;
