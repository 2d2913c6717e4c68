//! Reading what a request carries, shared by every handler: a JSON body with its size limit and
//! content type, a video id in the path, and the page parameters of the list routes. What a handler does with the values
//! is its own business; parsing a single value (a name, a cursor) belongs to `domain`.

use http::{header, Request};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use svc::VideoId;

use crate::domain::{Cursor, Limit};
use crate::error::ApiError;

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

impl Page {
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let mut limit = None;
        let mut before = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "limit" => limit = Some(v.into_owned()),
                "before" => before = Some(v.into_owned()),
                _ => {}
            }
        }
        let limit = Limit::parse(limit.as_deref()).map_err(ApiError::BadRequest)?;
        let before = match before.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::parse(raw).map_err(ApiError::BadRequest)?),
        };
        Ok(Page { limit, before })
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
