//! Embedded SQL migrations, applied at start-up by api and scheduler.
//!
//! The files in `svc/migrations/` are compiled into the binaries. Applying runs under a MySQL named
//! lock (`GET_LOCK`, one per database) so two processes starting together cannot both apply a
//! file; each applied file is recorded in `schema_migrations` with its SHA-256, so applying twice
//! is a no-op and a file edited after it was applied is refused instead of silently diverging.
//! Migrations are never edited: a change is a new file.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::Pool;
use sha2::{Digest, Sha256};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The platform's schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users_and_sessions",
        sql: include_str!("../migrations/0001_users_and_sessions.sql"),
    },
    Migration {
        version: 2,
        name: "videos_and_comments",
        sql: include_str!("../migrations/0002_videos_and_comments.sql"),
    },
    Migration {
        version: 3,
        name: "jobs",
        sql: include_str!("../migrations/0003_jobs.sql"),
    },
    Migration {
        version: 4,
        name: "uploads",
        sql: include_str!("../migrations/0004_uploads.sql"),
    },
    Migration {
        version: 5,
        name: "jobs_without_video",
        sql: include_str!("../migrations/0005_jobs_without_video.sql"),
    },
    Migration {
        version: 6,
        name: "visibility_and_search",
        sql: include_str!("../migrations/0006_visibility_and_search.sql"),
    },
    Migration {
        version: 7,
        name: "renditions",
        sql: include_str!("../migrations/0007_renditions.sql"),
    },
    Migration {
        version: 8,
        name: "search_postings",
        sql: include_str!("../migrations/0008_search_postings.sql"),
    },
    Migration {
        version: 9,
        name: "upload_tokens",
        sql: include_str!("../migrations/0009_upload_tokens.sql"),
    },
    Migration {
        version: 10,
        name: "live_and_social",
        sql: include_str!("../migrations/0010_live_and_social.sql"),
    },
    Migration {
        version: 11,
        name: "live_gone",
        sql: include_str!("../migrations/0011_live_gone.sql"),
    },
    Migration {
        version: 12,
        name: "video_state_index",
        sql: include_str!("../migrations/0012_video_state_index.sql"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "migration {version} ({name}) was changed after it was applied \
         (recorded sha256 {recorded}, file sha256 {current}); never edit an applied migration, add a new one"
    )]
    Edited {
        version: u32,
        name: String,
        recorded: String,
        current: String,
    },
    #[error("another process held the migration lock for 60s; is a migration stuck?")]
    LockTimeout,
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: u32,
        name: String,
        source: mysql_async::Error,
    },
    #[error("database error while migrating: {0}")]
    Db(#[from] mysql_async::Error),
}

/// Applies [`MIGRATIONS`]; returns how many were newly applied.
pub async fn run(pool: &Pool) -> Result<usize, MigrateError> {
    run_with(pool, MIGRATIONS).await
}

/// Applies `migrations` (tests pass their own lists).
pub async fn run_with(pool: &Pool, migrations: &[Migration]) -> Result<usize, MigrateError> {
    let mut conn = pool.get_conn().await?;
    let locked: Option<i64> = conn
        .query_first("SELECT GET_LOCK(CONCAT('migrate:', DATABASE()), 60)")
        .await?
        .flatten();
    if locked != Some(1) {
        return Err(MigrateError::LockTimeout);
    }
    let result = apply_locked(&mut conn, migrations).await;
    // The lock also goes when the connection closes, so a failed release is not fatal.
    let _ = conn
        .query_drop("DO RELEASE_LOCK(CONCAT('migrate:', DATABASE()))")
        .await;
    result
}

async fn apply_locked(
    conn: &mut mysql_async::Conn,
    migrations: &[Migration],
) -> Result<usize, MigrateError> {
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INT UNSIGNED NOT NULL PRIMARY KEY,
            name VARCHAR(200) NOT NULL,
            checksum CHAR(64) NOT NULL,
            applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    )
    .await?;
    let applied: HashMap<u32, String> = conn
        .query::<(u32, String), _>("SELECT version, checksum FROM schema_migrations")
        .await?
        .into_iter()
        .collect();

    let mut count = 0;
    for m in migrations {
        let checksum = hex::encode(Sha256::digest(m.sql.as_bytes()));
        match applied.get(&m.version) {
            Some(recorded) if *recorded == checksum => continue,
            Some(recorded) => {
                return Err(MigrateError::Edited {
                    version: m.version,
                    name: m.name.to_string(),
                    recorded: recorded.clone(),
                    current: checksum,
                })
            }
            None => {}
        }
        tracing::info!(version = m.version, name = m.name, "applying migration");
        conn.query_drop(m.sql)
            .await
            .map_err(|source| MigrateError::Failed {
                version: m.version,
                name: m.name.to_string(),
                source,
            })?;
        conn.exec_drop(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
            (m.version, m.name, &checksum),
        )
        .await?;
        count += 1;
    }
    Ok(count)
}
