//! SQL over `video_info`: what playback reads and what publishing an upload changes. Functions
//! take any `Queryable` so handlers can compose them inside one transaction. No HTTP in here.
//!
//! States are read into `svc::VideoState` here, once; a spelling this build does not know (a
//! newer version's state) reads as `None` and is treated as neither playable nor pending. A
//! visibility this build does not know reads as `private`: an unknown word never opens a video
//! to more people than its owner.

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{FromRowError, Row};
use svc::{VideoId, VideoState, Visibility};

use crate::ingest::FileFacts;

/// What playback needs of a video: who may see it and what its file should be.
#[derive(Debug, Clone)]
pub struct PlaybackRow {
    pub author_id: u32,
    /// `None` for a state this build does not know.
    pub state: Option<VideoState>,
    pub visibility: Visibility,
    pub size: Option<u64>,
    pub content_type: Option<String>,
    pub sha256: Option<String>,
    /// Upload time in whole seconds since the epoch (UTC).
    pub uploaded_at: Option<i64>,
    /// Whether `originals/<vid>` holds the original (the progressive file is a transcode).
    pub has_original: bool,
    /// The uploader's file name, when their client sent one.
    pub original_name: Option<String>,
    /// The sniffed type of the uploaded file.
    pub original_type: Option<String>,
}

impl PlaybackRow {
    pub fn is_playable(&self) -> bool {
        self.state.is_some_and(VideoState::is_playable)
    }

    /// Whether processing is done: only then are the ladder and the storyboard served.
    pub fn is_ready(&self) -> bool {
        self.state == Some(VideoState::Ready)
    }

    /// Whether the video's bytes were ever stored (anything after `pending` this build knows):
    /// what its owner's download of the original needs.
    pub fn has_bytes(&self) -> bool {
        self.state.is_some_and(|s| s != VideoState::Pending)
    }

    /// Whether `viewer` (a user id, `None` when signed out) may see this video: the one rule,
    /// `svc::video::visible`. A state this build does not know is shown to its owner only.
    pub fn visible_to(&self, viewer: Option<u32>) -> bool {
        let is_owner = viewer == Some(self.author_id);
        match self.state {
            Some(state) => svc::video::visible(is_owner, state, self.visibility),
            None => is_owner,
        }
    }
}

/// The columns of [`playback`], in order.
type PlaybackColumns = (
    u32,
    String,
    String,
    Option<u64>,
    Option<String>,
    Option<String>,
    Option<i64>,
    bool,
    Option<String>,
    Option<String>,
);

impl FromRow for PlaybackRow {
    fn from_row_opt(row: Row) -> Result<Self, FromRowError> {
        let (
            author_id,
            state,
            visibility,
            size,
            content_type,
            sha256,
            uploaded_at,
            has_original,
            original_name,
            original_type,
        ): PlaybackColumns = FromRow::from_row_opt(row)?;
        Ok(PlaybackRow {
            author_id,
            state: VideoState::parse(&state),
            visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Private),
            size,
            content_type,
            sha256,
            uploaded_at,
            has_original,
            original_name,
            original_type,
        })
    }
}

pub async fn playback<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<Option<PlaybackRow>, mysql_async::Error> {
    // The connection runs in UTC (svc::db), so UNIX_TIMESTAMP reads uploaded_at as UTC.
    conn.exec_first(
        "SELECT author_id, state, visibility, size, content_type, sha256,
                CAST(FLOOR(UNIX_TIMESTAMP(uploaded_at)) AS SIGNED),
                has_original, original_name, original_type
         FROM video_info WHERE id = ?",
        (video_id.as_str(),),
    )
    .await
}

/// Who may upload to a video, and whether it still waits for its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    pub author: u32,
    /// `None` for a state this build does not know.
    pub state: Option<VideoState>,
}

impl FromRow for Ownership {
    fn from_row_opt(row: Row) -> Result<Self, FromRowError> {
        let (author, state): (u32, String) = FromRow::from_row_opt(row)?;
        Ok(Ownership {
            author,
            state: VideoState::parse(&state),
        })
    }
}

/// Whether a read locks the row it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    None,
    /// `FOR UPDATE`: the row stays locked until the transaction ends.
    ForUpdate,
}

/// The video's author and state.
pub async fn ownership<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    lock: Lock,
) -> Result<Option<Ownership>, mysql_async::Error> {
    let sql = match lock {
        Lock::None => "SELECT author_id, state FROM video_info WHERE id = ?",
        Lock::ForUpdate => "SELECT author_id, state FROM video_info WHERE id = ? FOR UPDATE",
    };
    conn.exec_first(sql, (video_id.as_str(),)).await
}

/// `pending` -> `uploaded` with the published file's facts; false when the video was not pending.
/// The sniffed type is both the served `content_type` (until processing publishes a transcode)
/// and the `original_type` a download of the original is labelled with.
pub async fn mark_uploaded<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
    facts: &FileFacts,
) -> Result<bool, mysql_async::Error> {
    let result = conn
        .exec_iter(
            "UPDATE video_info SET state = ?, size = ?, content_type = ?, sha256 = ?,
                    uploaded_at = UTC_TIMESTAMP(6), original_name = ?, original_type = ?
             WHERE id = ? AND state = ?",
            (
                VideoState::Uploaded.as_str(),
                facts.size,
                facts.kind.content_type,
                facts.sha256.as_str(),
                facts.original_name.as_deref(),
                facts.kind.content_type,
                video_id.as_str(),
                VideoState::Pending.as_str(),
            ),
        )
        .await?;
    let changed = result.affected_rows() == 1;
    result.drop_result().await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: Option<VideoState>, visibility: Visibility) -> PlaybackRow {
        PlaybackRow {
            author_id: 7,
            state,
            visibility,
            size: Some(1),
            content_type: None,
            sha256: None,
            uploaded_at: None,
            has_original: false,
            original_name: None,
            original_type: None,
        }
    }

    #[test]
    fn the_owner_sees_everything_others_what_svc_video_visible_allows() {
        for state in VideoState::ALL {
            for visibility in Visibility::ALL {
                let r = row(Some(state), visibility);
                assert!(r.visible_to(Some(7)), "{state} {visibility}");
                let others = svc::video::visible(false, state, visibility);
                assert_eq!(r.visible_to(Some(8)), others, "{state} {visibility}");
                assert_eq!(r.visible_to(None), others, "{state} {visibility}");
            }
        }
        let unknown_state = row(None, Visibility::Public);
        assert!(unknown_state.visible_to(Some(7)));
        assert!(!unknown_state.visible_to(None));
        assert!(!unknown_state.is_playable());
    }
}
