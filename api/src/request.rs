//! Reading what a request carries, shared by every handler: who reads (a session, or a
//! signed-out visitor within the read rate limit), a JSON body with its size limit and content
//! type, a video id in the path, and the query parameters of the list and search routes. What a
//! handler does with the values is its own business; parsing a single value (a name, a cursor)
//! belongs to `domain`.

use http::{header, Request};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use svc::VideoId;

use crate::auth::Reader;
use crate::domain::{Cursor, Limit, SearchCursor, SearchQuery};
use crate::error::ApiError;
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

/// `?q=&limit=&before=` of `GET /search`: a page of results ordered by relevance, `before`
/// being how many results the earlier pages held ([`SearchCursor`]).
pub struct SearchPage {
    pub q: SearchQuery,
    pub limit: Limit,
    pub from: SearchCursor,
}

impl SearchPage {
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let q = SearchQuery::parse(param(query, "q").as_deref()).map_err(ApiError::BadRequest)?;
        Ok(SearchPage {
            q,
            limit: limit(query)?,
            from: before(query, SearchCursor::parse)?.unwrap_or_default(),
        })
    }

    /// How many rows to fetch, as [`Page::fetch`].
    pub fn fetch(&self) -> u32 {
        self.limit.get() + 1
    }

    /// Splits the [`SearchPage::fetch`] rows read into the page and the `next` cursor (the
    /// offset after this page), `None` on the last page.
    pub fn split<T>(&self, mut rows: Vec<T>) -> (Vec<T>, Option<String>) {
        let limit = self.limit.get();
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more.then(|| {
            SearchCursor {
                offset: self.from.offset.saturating_add(limit),
            }
            .encode()
        });
        (rows, next)
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

    #[test]
    fn search_parameters() {
        let p = SearchPage::from_query(Some("q=%20Caf%C3%A9%20&x=1")).unwrap();
        assert_eq!(p.q.as_str(), "Café");
        assert_eq!((p.limit.get(), p.from.offset), (20, 0));
        let next = SearchCursor { offset: 40 }.encode();
        let p = SearchPage::from_query(Some(&format!("q=x&limit=5&before={next}"))).unwrap();
        assert_eq!((p.limit.get(), p.from.offset, p.fetch()), (5, 40, 6));
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
    fn a_search_page_points_past_its_rows() {
        let p = SearchPage::from_query(Some("q=x&limit=2")).unwrap();
        let (rows, next) = p.split(vec![1, 2, 3]);
        assert_eq!(rows, [1, 2]);
        let next = SearchCursor::parse(&next.expect("a next page")).unwrap();
        assert_eq!(next.offset, 2);
        assert_eq!(p.split(vec![1, 2]), (vec![1, 2], None));
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
