-- Videos with their upload and processing state, and comments (SPEC section 2).
CREATE TABLE video_info (
    id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    author_id INT UNSIGNED NOT NULL,
    name VARCHAR(200) NOT NULL,
    -- Preformatted for display, as the original: "Apr 23 2019, 11:25:47" (UTC).
    display_ctime VARCHAR(64) NOT NULL,
    create_time DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    state ENUM('pending', 'uploaded', 'ready', 'failed') NOT NULL DEFAULT 'pending',
    -- Set when the upload is published.
    size BIGINT UNSIGNED NULL,
    content_type VARCHAR(100) NULL,
    sha256 CHAR(64) CHARACTER SET ascii NULL,
    -- Last-Modified of the stored file; changes only when a new file is published.
    uploaded_at DATETIME(6) NULL,
    -- Set by processing.
    duration_ms BIGINT UNSIGNED NULL,
    width INT UNSIGNED NULL,
    height INT UNSIGNED NULL,
    video_codec VARCHAR(32) NULL,
    audio_codec VARCHAR(32) NULL,
    bitrate BIGINT UNSIGNED NULL,
    has_thumbnail BOOLEAN NOT NULL DEFAULT FALSE,
    -- Why processing failed, in words the web can show.
    failure_reason VARCHAR(500) NULL,
    -- Newest-first keyset pagination per author.
    KEY ix_video_author_time (author_id, create_time, id),
    CONSTRAINT fk_video_author FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE comments (
    id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    author_id INT UNSIGNED NOT NULL,
    content TEXT NOT NULL,
    time DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    -- Newest-first keyset pagination per video.
    KEY ix_comments_video_time (video_id, time, id),
    KEY ix_comments_author (author_id),
    CONSTRAINT fk_comment_video FOREIGN KEY (video_id) REFERENCES video_info (id) ON DELETE CASCADE,
    CONSTRAINT fk_comment_author FOREIGN KEY (author_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
