//! The search index, `search_postings`: one row per distinct token of a video (see
//! `crate::search` for how text is cut). Written with every create and edit and by the
//! start-up indexer; read here to plan a query (how many postings a term has). Walking the
//! postings for a page of videos is `store::videos::search`, which returns video rows.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use super::take;
use crate::search::{Posting, TermStats, COUNT_CAP};

/// Rows a multi-row `INSERT` carries at most: a 5,000-character description is thousands of
/// distinct tokens, far more placeholders than one statement should hold.
const INSERT_CHUNK: usize = 500;

/// What to index for one video.
pub struct Indexed<'a> {
    pub video_id: &'a str,
    /// The video's `create_time` as MySQL writes a `DATETIME(6)`.
    pub create_time: &'a str,
    pub postings: Vec<Posting>,
}

/// Options for a transaction that writes postings: READ COMMITTED, so that deleting a video's
/// postings takes no gap locks, which concurrent writers' inserts would wait on (and deadlock
/// with). Every row such a transaction changes is locked by key anyway.
pub fn tx_options() -> mysql_async::TxOpts {
    let mut opts = mysql_async::TxOpts::default();
    opts.with_isolation_level(mysql_async::IsolationLevel::ReadCommitted);
    opts
}

/// Replaces the postings of `videos` (already indexed, perhaps by an older tokeniser) with the
/// given ones. Run it in the transaction that writes the videos' rows, with [`tx_options`].
pub async fn replace<Q: Queryable>(
    conn: &mut Q,
    videos: &[Indexed<'_>],
) -> Result<(), mysql_async::Error> {
    if videos.is_empty() {
        return Ok(());
    }
    let ids: Vec<Value> = videos.iter().map(|v| v.video_id.into()).collect();
    let sql = format!(
        "DELETE FROM search_postings WHERE video_id IN ({})",
        placeholders(ids.len(), "?")
    );
    conn.exec_drop(sql, ids).await?;
    insert(conn, videos).await
}

/// Writes the postings of `videos`, which have none yet (new videos), in the transaction that
/// writes their rows.
pub async fn insert<Q: Queryable>(
    conn: &mut Q,
    videos: &[Indexed<'_>],
) -> Result<(), mysql_async::Error> {
    let rows: Vec<(&Indexed, &Posting)> = videos
        .iter()
        .flat_map(|v| v.postings.iter().map(move |p| (v, p)))
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO search_postings (term, in_title, create_time, video_id) VALUES {}",
            placeholders(chunk.len(), "(?, ?, ?, ?)")
        );
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 4);
        for (v, p) in chunk {
            params.extend([
                p.term.as_str().into(),
                p.in_title.into(),
                v.create_time.into(),
                v.video_id.into(),
            ]);
        }
        conn.exec_drop(sql, params).await?;
    }
    Ok(())
}

/// For each of `terms`, what `search::TermStats` holds: how many title postings it has up to
/// `search::COUNT_CAP`, how far back the newest `COUNT_CAP` of them reach (when it has that
/// many), and whether it has a description-only posting. One statement: per term two bounded
/// range scans and one index lookup (description postings sort first in the primary key).
pub async fn stats<Q: Queryable>(
    conn: &mut Q,
    terms: &[String],
) -> Result<Vec<TermStats>, mysql_async::Error> {
    if terms.is_empty() {
        return Ok(vec![]);
    }
    let one = format!(
        "(SELECT COUNT(*) FROM (SELECT 1 FROM search_postings p
                                 WHERE p.term = ? AND p.in_title = 1 LIMIT {COUNT_CAP}) c),
         (SELECT DATE_FORMAT(p.create_time, '%Y-%m-%d %H:%i:%s.%f') FROM search_postings p
           WHERE p.term = ? AND p.in_title = 1
           ORDER BY p.create_time DESC LIMIT 1 OFFSET {}),
         EXISTS (SELECT 1 FROM search_postings p WHERE p.term = ? AND p.in_title = 0)",
        COUNT_CAP - 1
    );
    let sql = format!("SELECT {}", vec![one; terms.len()].join(", "));
    let params: Vec<Value> = terms
        .iter()
        .flat_map(|t| [t.as_str().into(), t.as_str().into(), t.as_str().into()])
        .collect();
    let row: Option<Row> = conn.exec_first(sql, params).await?;
    let Some(mut row) = row else {
        return Err(mysql_async::Error::Other(
            "reading the terms' statistics returned no row".into(),
        ));
    };
    (0..terms.len())
        .map(|i| {
            Ok(TermStats {
                title_postings: take(&mut row, 3 * i)?,
                reach: take(&mut row, 3 * i + 1)?,
                in_descriptions: take(&mut row, 3 * i + 2)?,
            })
        })
        .collect()
}

/// `n` copies of `one` separated by commas: the placeholders of an `IN` list or a multi-row
/// `VALUES`.
pub(super) fn placeholders(n: usize, one: &str) -> String {
    vec![one; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_repeat_with_commas() {
        assert_eq!(placeholders(1, "?"), "?");
        assert_eq!(placeholders(3, "(?, ?)"), "(?, ?), (?, ?), (?, ?)");
    }
}
