-- Live and social (issue 14): danmaku, the live event log every api node polls, who is watching
-- on which node, favourites and follows.
--
-- Danmaku and favourites go with their video (ON DELETE CASCADE), inside the transaction of the
-- api's DELETE (and of the scheduler's removal of a pending video) that deletes its comments.

-- A comment pinned to a moment of the video. The index serves a player's window of the
-- timeline (`video_id = ? AND at_ms BETWEEN ? AND ?`, in time order) without a sort.
CREATE TABLE danmaku (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    author_id INT UNSIGNED NOT NULL,
    at_ms INT UNSIGNED NOT NULL,
    text VARCHAR(100) NOT NULL,
    mode ENUM('scroll', 'top', 'bottom') NOT NULL DEFAULT 'scroll',
    -- `#rrggbb`, lower case.
    color CHAR(7) CHARACTER SET ascii NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY ix_danmaku_video_at (video_id, at_ms, id),
    KEY ix_danmaku_author (author_id),
    CONSTRAINT fk_danmaku_video FOREIGN KEY (video_id) REFERENCES video_info (id) ON DELETE CASCADE,
    CONSTRAINT fk_danmaku_author FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What happened on a video that its live viewers are told (a new danmaku or comment, a deleted
-- danmaku), written in the transaction of the change. One task per api node reads the rows
-- after the last id it delivered (the primary key) and fans them out to its own streams; the id
-- is the stream's `Last-Event-ID`. No foreign key: a row is never read by video alone except
-- for a replay (ix_live_events_video), and rows of a deleted video age out with the rest.
CREATE TABLE live_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    kind ENUM('danmaku', 'danmaku_delete', 'comment') NOT NULL,
    -- The event's `data`, as sent.
    payload TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY ix_live_events_video (video_id, id),
    KEY ix_live_events_time (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- How many live streams each api node holds open per video, written by that node at most once
-- a second and touched every few seconds; a node's rows older than LIVE_NODE_TIMEOUT are not
-- counted (a node that died), and are deleted later by any node.
CREATE TABLE live_presence (
    node_id CHAR(36) CHARACTER SET ascii NOT NULL,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    viewers INT UNSIGNED NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (node_id, video_id),
    KEY ix_live_presence_video (video_id, updated_at)
) ENGINE=InnoDB;

-- A user's favourite videos, newest first (ix_favorites_user_time), and the count on the video
-- kept in its row by the same transaction, so a page of video objects reads no extra table.
CREATE TABLE favorites (
    user_id INT UNSIGNED NOT NULL,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, video_id),
    KEY ix_favorites_user_time (user_id, created_at, video_id),
    KEY ix_favorites_video (video_id),
    CONSTRAINT fk_favorite_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_favorite_video FOREIGN KEY (video_id) REFERENCES video_info (id) ON DELETE CASCADE
) ENGINE=InnoDB;

ALTER TABLE video_info ADD COLUMN favorite_count INT UNSIGNED NOT NULL DEFAULT 0;

-- Who follows whom. The primary key lists whom a user follows (the feed, the following count);
-- ix_follows_followee counts a channel's followers.
CREATE TABLE follows (
    follower_id INT UNSIGNED NOT NULL,
    followee_id INT UNSIGNED NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (follower_id, followee_id),
    KEY ix_follows_followee (followee_id, follower_id),
    CONSTRAINT fk_follow_follower FOREIGN KEY (follower_id) REFERENCES users (id),
    CONSTRAINT fk_follow_followee FOREIGN KEY (followee_id) REFERENCES users (id)
) ENGINE=InnoDB;
