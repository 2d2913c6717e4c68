//! SQL over `uploads`, the tus state of resumable uploads (the bytes live in storage). Functions
//! take any `Queryable` so handlers can compose them inside one transaction. No HTTP in here.

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{FromRowError, Row};
use svc::VideoId;

/// A resumable upload's row.
#[derive(Debug, Clone)]
pub struct UploadRow {
    pub id: String,
    pub video_id: VideoId,
    pub user_id: u32,
    pub length: u64,
    pub offset: u64,
    pub metadata: Option<String>,
    pub expired: bool,
    /// Expiry as whole seconds since the epoch.
    pub expires_at: i64,
    pub completed: bool,
}

impl FromRow for UploadRow {
    fn from_row_opt(row: Row) -> Result<Self, FromRowError> {
        // `uploads.video_id` is copied from `video_info.id`, so it always parses; a row that
        // does not is refused rather than trusted.
        let parsed = row.get_opt::<String, _>(1).and_then(Result::ok);
        let Some(video_id) = parsed.as_deref().and_then(VideoId::parse) else {
            return Err(FromRowError(row));
        };
        let (id, _, user_id, length, offset, metadata, expired, expires_at, completed): (
            String,
            String,
            u32,
            Option<u64>,
            u64,
            Option<String>,
            bool,
            i64,
            bool,
        ) = FromRow::from_row_opt(row)?;
        Ok(UploadRow {
            id,
            video_id,
            user_id,
            length: length.unwrap_or(0),
            offset,
            metadata,
            expired,
            expires_at,
            completed,
        })
    }
}

pub async fn upload<Q: Queryable>(
    conn: &mut Q,
    upload_id: &str,
) -> Result<Option<UploadRow>, mysql_async::Error> {
    conn.exec_first(
        "SELECT id, video_id, user_id, upload_length, upload_offset, metadata,
                expires_at <= UTC_TIMESTAMP(6),
                CAST(FLOOR(UNIX_TIMESTAMP(expires_at)) AS SIGNED),
                completed_at IS NOT NULL
         FROM uploads WHERE id = ?",
        (upload_id,),
    )
    .await
}

pub async fn insert_upload<Q: Queryable>(
    conn: &mut Q,
    upload_id: &str,
    video_id: &VideoId,
    user_id: u32,
    length: u64,
    metadata: &str,
    expiry_secs: u64,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO uploads (id, video_id, user_id, upload_length, upload_offset, metadata, expires_at)
         VALUES (?, ?, ?, ?, 0, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)",
        (upload_id, video_id.as_str(), user_id, length, metadata, expiry_secs),
    )
    .await
}

/// Records a durable offset and pushes the expiry forward (tus expiration: idle time counts).
pub async fn record_offset<Q: Queryable>(
    conn: &mut Q,
    upload_id: &str,
    offset: u64,
    expiry_secs: u64,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE uploads SET upload_offset = ?, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND
         WHERE id = ?",
        (offset, expiry_secs, upload_id),
    )
    .await
}

pub async fn complete_upload<Q: Queryable>(
    conn: &mut Q,
    upload_id: &str,
    offset: u64,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "UPDATE uploads SET upload_offset = ?, completed_at = UTC_TIMESTAMP(6) WHERE id = ?",
        (offset, upload_id),
    )
    .await
}

pub async fn delete_upload<Q: Queryable>(
    conn: &mut Q,
    upload_id: &str,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop("DELETE FROM uploads WHERE id = ?", (upload_id,))
        .await
}
