//! The `video_renditions` table as the api reads it: the rungs of each video's HLS ladder
//! (planned by the scheduler's ladder job with `ready = FALSE`, set TRUE as each rung's files
//! are published), for the video object. Read for a whole page of videos in one statement, so
//! a list costs the same number of queries whatever its length.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use super::take;

/// One rung of a video's ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub height: u16,
    /// Peak bits per second (the master playlist's `BANDWIDTH`).
    pub bandwidth: u32,
    /// Whether its playlist and media file are published.
    pub ready: bool,
}

/// How many videos one statement asks about: a whole page (`Limit::MAX`). The statement always
/// has this many placeholders (unused ones bound to an id no video has), so it is prepared once
/// per connection and cached, whatever the page size.
pub const BATCH: usize = 100;

/// The statement of [`of_videos`], with [`BATCH`] placeholders; served by the primary key
/// `(video_id, height)`, which also gives the order.
fn statement() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let marks = vec!["?"; BATCH].join(", ");
        format!(
            "SELECT video_id, height, bandwidth, ready FROM video_renditions
              WHERE video_id IN ({marks}) ORDER BY video_id, height"
        )
    })
}

/// The rungs of each of `video_ids`, lowest first; a video without any (its ladder not planned
/// yet) is absent from the map. One statement per [`BATCH`] videos.
pub async fn of_videos<Q: Queryable>(
    conn: &mut Q,
    video_ids: &[&str],
) -> Result<HashMap<String, Vec<Rendition>>, mysql_async::Error> {
    let mut found: HashMap<String, Vec<Rendition>> = HashMap::new();
    for batch in video_ids.chunks(BATCH) {
        let mut params: Vec<Value> = batch.iter().map(|id| (*id).into()).collect();
        params.resize(BATCH, "".into());
        let rows: Vec<Row> = conn.exec(statement(), params).await?;
        for mut row in rows {
            let video_id: String = take(&mut row, 0)?;
            let rendition = Rendition {
                height: take(&mut row, 1)?,
                bandwidth: take(&mut row, 2)?,
                ready: take(&mut row, 3)?,
            };
            found.entry(video_id).or_default().push(rendition);
        }
    }
    Ok(found)
}
