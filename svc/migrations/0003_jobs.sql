-- The one durable queue of deferred work (SPEC section 5), replacing the original's video_del_rec.
-- Producers: api (delete_video), streamserver (process_video), scheduler (its endpoints and the
-- reconciler). Consumer: the scheduler, which claims rows with SELECT ... FOR UPDATE SKIP LOCKED
-- and a lease.
CREATE TABLE jobs (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind VARCHAR(32) CHARACTER SET ascii NOT NULL,
    -- No foreign key: a deletion job outlives its video row by design.
    video_id CHAR(36) CHARACTER SET ascii NOT NULL,
    -- Makes queueing idempotent where a kind wants it (for example "delete_video:<vid>"):
    -- producers use INSERT ... ON DUPLICATE KEY UPDATE on it. NULL means no de-duplication.
    dedupe_key VARCHAR(128) CHARACTER SET ascii NULL,
    -- Kind-specific details (JSON), for example the storage keys an orphan deletion removes.
    payload TEXT NULL,
    state ENUM('queued', 'running', 'done', 'failed') NOT NULL DEFAULT 'queued',
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    max_attempts INT UNSIGNED NOT NULL DEFAULT 8,
    run_after DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    lease_owner VARCHAR(64) NULL,
    lease_until DATETIME(6) NULL,
    last_error TEXT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    updated_at DATETIME(6) NOT NULL DEFAULT (UTC_TIMESTAMP(6)),
    finished_at DATETIME(6) NULL,
    UNIQUE KEY uq_jobs_dedupe (dedupe_key),
    -- The dispatcher's claim query: due queued jobs, and running jobs whose lease expired.
    KEY ix_jobs_due (state, run_after),
    KEY ix_jobs_lease (state, lease_until),
    KEY ix_jobs_video (video_id, kind)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
