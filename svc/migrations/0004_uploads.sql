-- Resumable (tus 1.0.0) uploads in progress. The bytes live in storage under uploads/<id>; the
-- durable offset is what is on disk, this row holds the rest of the tus state.
CREATE TABLE uploads (
    id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    user_id INT UNSIGNED NOT NULL,
    -- Upload-Length; NULL while deferred.
    upload_length BIGINT UNSIGNED NULL,
    -- Last offset recorded after an fsync; the file on disk may be ahead after a crash.
    upload_offset BIGINT UNSIGNED NOT NULL DEFAULT 0,
    -- Upload-Metadata exactly as the client sent it.
    metadata TEXT NULL,
    expires_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    completed_at DATETIME(6) NULL,
    KEY ix_uploads_video (video_id),
    KEY ix_uploads_expires (expires_at),
    CONSTRAINT fk_upload_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
