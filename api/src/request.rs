//! Reading what a request carries, shared by every handler: who reads (a session, or a
//! signed-out visitor within the read rate limit), a JSON body with its size limit and content
//! type, a video id in the path, and the query parameters of the list and search routes. What a
//! handler does with the values is its own business; parsing a single value (a name, a cursor)
//! belongs to `domain`.

use http::{header, Request};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use svc::{VideoId, VideoState};

use crate::auth::Reader;
use crate::domain::{Cursor, Limit, SearchCursor, SearchQuery};
use crate::error::ApiError;
use crate::search::Tier;
use crate::state::Api;

/// Who makes a read: the session's user, or nobody. A read without a session counts against the
/// client's signed-out read allowance (429 beyond it); an invalid or expired session is 401.
pub async fn reader<B>(api: &Api, req: &Request<B>) -> Result<Reader, ApiError> {
    let reader = api.sessions.reader(&api.pool, req.headers()).await?;
    if reader.0.is_none() {
        api.limits.read(req)?;
    }
    Ok(reader)
}

/// Request bodies larger than this are refused with 413 (SPEC section 3).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Reads and parses a JSON body: 415 if it says it is something else, 413 over
/// [`BODY_LIMIT`], 400 with serde's words for anything malformed.
pub async fn read_json<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, ApiError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        // A missing Content-Type is accepted (the original's clients often sent none).
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "request body must be JSON (Content-Type: application/json), not {essence:?}"
            )));
        }
    }
    let bytes = svc::http::read_body(req.into_body(), BODY_LIMIT).await?;
    // serde reads a struct from a JSON array too (`["ann", "pwd"]`); every body here is an
    // object, so anything else is the wrong type.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "request body must be a JSON object, for example {\"name\": \"...\"}".into(),
            ))
        }
    }
    svc::http::parse_json(&bytes).map_err(ApiError::BadRequest)
}

/// The 404 message for a video that is not there, or not there for this viewer.
pub const NO_VIDEO: &str = "no such video";

/// A comment, danmaku or favourite for a video whose processing failed (only its owner sees it):
/// 409, since nobody will ever watch it.
pub fn takes_reactions(state: VideoState) -> Result<(), ApiError> {
    match state {
        VideoState::Failed => Err(ApiError::Conflict(
            "this video failed processing, so it takes no comments, danmaku or favourites; \
             upload a working file as a new video",
        )),
        _ => Ok(()),
    }
}

/// The `{vid}` of a path. A segment that cannot be a video id names no video: 404, as for an
/// id no video has.
pub fn video_id(raw: &str) -> Result<VideoId, ApiError> {
    VideoId::parse(raw).ok_or(ApiError::NotFound(NO_VIDEO))
}

/// `?limit=&before=` of a list route; other parameters are ignored.
pub struct Page {
    pub limit: Limit,
    pub before: Option<Cursor>,
}

/// The first value of the query parameter `name`, percent-decoded.
fn param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn limit(query: Option<&str>) -> Result<Limit, ApiError> {
    Limit::parse(param(query, "limit").as_deref()).map_err(ApiError::BadRequest)
}

/// `before`, parsed by `parse`; absent or empty is the first page.
fn before<C>(
    query: Option<&str>,
    parse: impl Fn(&str) -> Result<C, String>,
) -> Result<Option<C>, ApiError> {
    param(query, "before")
        .filter(|raw| !raw.is_empty())
        .map(|raw| parse(&raw).map_err(ApiError::BadRequest))
        .transpose()
}

impl Page {
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        Ok(Page {
            limit: limit(query)?,
            before: before(query, Cursor::parse)?,
        })
    }

    /// How many rows to fetch: one more than the page holds, to know whether another follows.
    pub fn fetch(&self) -> u32 {
        self.limit.get() + 1
    }

    /// Splits the [`Page::fetch`] rows read into the page and the `next` cursor, which is
    /// `None` on the last page.
    pub fn split<T>(
        &self,
        mut rows: Vec<T>,
        cursor: impl Fn(&T) -> Cursor,
    ) -> (Vec<T>, Option<String>) {
        let more = rows.len() > self.limit.get() as usize;
        rows.truncate(self.limit.get() as usize);
        let next = if more {
            rows.last().map(|row| cursor(row).encode())
        } else {
            None
        };
        (rows, next)
    }
}

/// `?q=&limit=&before=` of `GET /search`: a page of results in their order (title matches
/// first, then newest first), `before` being where the previous page ended ([`SearchCursor`]).
pub struct SearchPage {
    pub q: SearchQuery,
    pub limit: Limit,
    pub before: Option<SearchCursor>,
}

impl SearchPage {
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let q = SearchQuery::parse(param(query, "q").as_deref()).map_err(ApiError::BadRequest)?;
        Ok(SearchPage {
            q,
            limit: limit(query)?,
            before: before(query, SearchCursor::parse)?,
        })
    }

    /// How many rows to fetch, as [`Page::fetch`].
    pub fn fetch(&self) -> u32 {
        self.limit.get() + 1
    }

    /// Whether this page can hold videos of `tier`: not when `before` is past it (in a later
    /// tier).
    pub fn reaches(&self, tier: Tier) -> bool {
        self.before.as_ref().is_none_or(|c| c.tier >= tier)
    }

    /// Where this page starts within `tier`: after `before` when that is in `tier`; at the top
    /// (`None`) otherwise.
    pub fn after_in(&self, tier: Tier) -> Option<&Cursor> {
        self.before
            .as_ref()
            .filter(|c| c.tier == tier)
            .map(|c| &c.at)
    }

    /// Splits the [`SearchPage::fetch`] rows read (each with its tier) into the page and the
    /// `next` cursor (after the page's last row), `None` on the last page.
    pub fn split<T>(
        &self,
        mut rows: Vec<(Tier, T)>,
        cursor: impl Fn(&T) -> Cursor,
    ) -> (Vec<T>, Option<String>) {
        let more = rows.len() > self.limit.get() as usize;
        rows.truncate(self.limit.get() as usize);
        let next = match rows.last() {
            Some((tier, row)) if more => Some(
                SearchCursor {
                    tier: *tier,
                    at: cursor(row),
                }
                .encode(),
            ),
            _ => None,
        };
        (rows.into_iter().map(|(_, row)| row).collect(), next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_video_id_is_the_canonical_uuid_or_404() {
        let id = VideoId::random();
        assert_eq!(video_id(id.as_str()).unwrap(), id);
        assert_eq!(video_id(&id.as_str().to_uppercase()).unwrap(), id);
        for bad in ["", "not-a-uuid", &id.as_str().replace('-', "")] {
            assert!(
                matches!(video_id(bad), Err(ApiError::NotFound(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn page_parameters() {
        let p = Page::from_query(None).unwrap();
        assert_eq!(p.limit.get(), 20);
        assert_eq!(p.fetch(), 21);
        assert!(p.before.is_none());
        let p = Page::from_query(Some("limit=5&before=&x=1")).unwrap();
        assert_eq!(p.limit.get(), 5);
        assert!(p.before.is_none());
        assert!(matches!(
            Page::from_query(Some("limit=500")),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            Page::from_query(Some("before=forged")),
            Err(ApiError::BadRequest(_))
        ));
    }

    fn at(n: u32) -> Cursor {
        Cursor {
            time: "2026-01-02 03:04:05.000000".into(),
            id: format!("00000000-0000-4000-8000-00000000000{n}"),
        }
    }

    #[test]
    fn search_parameters() {
        let p = SearchPage::from_query(Some("q=%20Caf%C3%A9%20&x=1")).unwrap();
        assert_eq!(p.q.as_str(), "Café");
        assert_eq!((p.limit.get(), p.before.is_none()), (20, true));
        let next = SearchCursor {
            tier: Tier::Anywhere,
            at: at(1),
        };
        let p =
            SearchPage::from_query(Some(&format!("q=x&limit=5&before={}", next.encode()))).unwrap();
        assert_eq!((p.limit.get(), p.fetch()), (5, 6));
        assert_eq!(p.before, Some(next));
        for bad in [
            None,
            Some("q="),
            Some("q=+++"),
            Some("limit=5"),
            Some("q=x&limit=0"),
            Some("q=x&before=forged"),
        ] {
            assert!(
                matches!(SearchPage::from_query(bad), Err(ApiError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_search_cursor_positions_each_tier() {
        let page = |tier: Option<Tier>| SearchPage {
            q: SearchQuery::parse(Some("x")).unwrap(),
            limit: Limit::DEFAULT,
            before: tier.map(|tier| SearchCursor { tier, at: at(1) }),
        };
        let first = page(None);
        assert!(first.reaches(Tier::Title) && first.reaches(Tier::Anywhere));
        assert_eq!(first.after_in(Tier::Title), None);
        assert_eq!(first.after_in(Tier::Anywhere), None);
        let in_title = page(Some(Tier::Title));
        assert!(in_title.reaches(Tier::Title) && in_title.reaches(Tier::Anywhere));
        assert_eq!(in_title.after_in(Tier::Title), Some(&at(1)));
        assert_eq!(in_title.after_in(Tier::Anywhere), None);
        let in_rest = page(Some(Tier::Anywhere));
        assert!(!in_rest.reaches(Tier::Title) && in_rest.reaches(Tier::Anywhere));
        assert_eq!(in_rest.after_in(Tier::Anywhere), Some(&at(1)));
    }

    #[test]
    fn a_search_page_points_after_its_last_row_in_that_rows_tier() {
        let p = SearchPage::from_query(Some("q=x&limit=2")).unwrap();
        let rows = vec![(Tier::Title, 1), (Tier::Anywhere, 2), (Tier::Anywhere, 3)];
        let (rows, next) = p.split(rows, |n: &u32| at(*n));
        assert_eq!(rows, [1, 2]);
        let next = SearchCursor::parse(&next.expect("a next page")).unwrap();
        assert_eq!(
            next,
            SearchCursor {
                tier: Tier::Anywhere,
                at: at(2)
            }
        );
        let (rows, next) = p.split(vec![(Tier::Title, 1), (Tier::Title, 2)], |n: &u32| at(*n));
        assert_eq!((rows, next), (vec![1, 2], None));
        assert_eq!(
            p.split(Vec::<(Tier, u32)>::new(), |n: &u32| at(*n)),
            (vec![], None)
        );
    }

    #[test]
    fn a_page_splits_off_the_extra_row_and_points_after_its_last() {
        let cursor_of = |n: &u32| Cursor {
            time: "2026-01-02 03:04:05.000000".into(),
            id: format!("00000000-0000-4000-8000-00000000000{n}"),
        };
        let page = Page::from_query(Some("limit=2")).unwrap();
        assert_eq!(page.fetch(), 3);
        let (rows, next) = page.split(vec![1, 2, 3], cursor_of);
        assert_eq!(rows, [1, 2]);
        let next = Cursor::parse(&next.expect("a next cursor")).unwrap();
        assert_eq!(next, cursor_of(&2));
        assert_eq!(page.split(vec![1, 2], cursor_of), (vec![1, 2], None));
        assert_eq!(page.split(Vec::<u32>::new(), cursor_of), (vec![], None));
    }
}
