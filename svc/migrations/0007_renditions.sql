-- Every upload plays everywhere (issue 12): transcoding, the adaptive HLS ladder, storyboards.
--
-- `processing`: the bytes are stored but browsers cannot play them as they came, and the
-- progressive rendition is being transcoded; not served until `ready`.
ALTER TABLE video_info
    MODIFY state ENUM('pending', 'uploaded', 'processing', 'ready', 'failed') NOT NULL DEFAULT 'pending',
    -- Percent of the transcode running now (from ffmpeg's -progress); NULL when none runs.
    ADD COLUMN processing_progress TINYINT UNSIGNED NULL,
    -- The uploader's file name and its sniffed type, written by the streamserver at publish.
    ADD COLUMN original_name VARCHAR(255) NULL,
    ADD COLUMN original_type VARCHAR(100) NULL,
    -- originals/<vid> holds the original because the progressive rendition is a transcode.
    ADD COLUMN has_original BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN has_storyboard BOOLEAN NOT NULL DEFAULT FALSE;

-- One row per rung of a video's HLS ladder, planned with ready = FALSE and set TRUE once the
-- rung's playlist and media file are published.
CREATE TABLE video_renditions (
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    height SMALLINT UNSIGNED NOT NULL,
    width SMALLINT UNSIGNED NOT NULL,
    -- Peak bits per second, for the master playlist's BANDWIDTH.
    bandwidth INT UNSIGNED NOT NULL,
    -- RFC 6381 codecs string, for the master playlist's CODECS.
    codecs VARCHAR(64) CHARACTER SET ascii NOT NULL,
    ready BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (video_id, height),
    CONSTRAINT fk_rendition_video FOREIGN KEY (video_id) REFERENCES video_info (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
