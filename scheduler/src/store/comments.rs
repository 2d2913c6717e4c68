//! The scheduler's one write to `comments`: removing a video's comments together with the video,
//! when housekeeping removes an abandoned `pending` video (as the api does when its owner deletes
//! one). Reading and writing comments otherwise is the api's.

use mysql_async::prelude::Queryable;
use svc::VideoId;

/// Deletes every comment on `video_id`.
pub async fn delete_for_video<Q: Queryable>(
    conn: &mut Q,
    video_id: &VideoId,
) -> Result<(), mysql_async::Error> {
    conn.exec_drop(
        "DELETE FROM comments WHERE video_id = ?",
        (video_id.as_str(),),
    )
    .await
}
