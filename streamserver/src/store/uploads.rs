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
    /// The storage backend's resume token of the upload's bytes (`svc::storage::Token`):
    /// `None` on the local backend.
    pub storage_token: Option<String>,
}

/// The columns [`upload`] selects, in order.
type Columns = (
    String,
    String,
    u32,
    Option<u64>,
    u64,
    Option<String>,
    bool,
    i64,
    bool,
    Option<String>,
);

impl FromRow for UploadRow {
    fn from_row_opt(row: Row) -> Result<Self, FromRowError> {
        // `uploads.video_id` is copied from `video_info.id`, so it always parses; a row that
        // does not is refused rather than trusted.
        let parsed = row.get_opt::<String, _>(1).and_then(Result::ok);
        let Some(video_id) = parsed.as_deref().and_then(VideoId::parse) else {
            return Err(FromRowError(row));
        };
        let (id, _, user_id, length, offset, metadata, expired, expires_at, completed, token): Columns =
            FromRow::from_row_opt(row)?;
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
            storage_token: token,
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
                completed_at IS NOT NULL, storage_token
         FROM uploads WHERE id = ?",
        (upload_id,),
    )
    .await
}

/// A resumable upload about to be created.
pub struct NewUpload<'a> {
    pub id: &'a str,
    pub video_id: &'a VideoId,
    pub user_id: u32,
    /// `Upload-Length`.
    pub length: u64,
    /// `Upload-Metadata` as sent.
    pub metadata: &'a str,
    /// The storage token of its (empty) bytes.
    pub token: Option<&'a str>,
}

pub async fn insert_upload<Q: Queryable>(
    conn: &mut Q,
    upload: NewUpload<'_>,
    expiry_secs: u64,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "INSERT INTO uploads (id, video_id, user_id, upload_length, upload_offset, metadata,
                              storage_token, expires_at)
         VALUES (?, ?, ?, ?, 0, ?, ?, UTC_TIMESTAMP(6) + INTERVAL ? SECOND)",
        (
            upload.id,
            upload.video_id.as_str(),
            upload.user_id,
            upload.length,
            upload.metadata,
            upload.token,
            expiry_secs,
        ),
    )
    .await
}

/// A durable offset and the storage token that reaches it.
pub struct Progress<'a> {
    pub offset: u64,
    pub token: Option<&'a str>,
}

/// Records a durable offset with its storage token and pushes the expiry forward (tus
/// expiration: idle time counts), only if the row still holds the token `previous` (NULL
/// matches NULL): `false` when another request, maybe on another streamserver, recorded its
/// own appends first.
pub async fn record_offset<Q: Queryable>(
    conn: &mut Q,
    upload_id: &str,
    progress: Progress<'_>,
    previous: Option<&str>,
    expiry_secs: u64,
) -> Result<bool, mysql_async::Error> {
    let result = conn
        .exec_iter(
            "UPDATE uploads SET upload_offset = ?, storage_token = ?,
                    expires_at = UTC_TIMESTAMP(6) + INTERVAL ? SECOND
             WHERE id = ? AND storage_token <=> ?",
            (
                progress.offset,
                progress.token,
                expiry_secs,
                upload_id,
                previous,
            ),
        )
        .await?;
    // The expiry moves on every call, so the row changes whenever the token matched.
    let recorded = result.affected_rows() == 1;
    result.drop_result().await?;
    Ok(recorded)
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
