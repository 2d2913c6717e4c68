//! Conditional requests for playback (RFC 9110 section 13): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range`, evaluated in the order of section 13.2.2.
//!
//! Pure: it sees the request headers and the representation's validators and decides; it does
//! not build responses or touch files.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap};

/// The validators of the representation being served.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    /// A strong entity tag including its quotes, `"<sha256>"`.
    pub etag: Option<String>,
    /// Last-Modified, whole seconds.
    pub last_modified: Option<SystemTime>,
}

/// What to do with a GET or HEAD after evaluating its preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 412 Precondition Failed.
    PreconditionFailed,
    /// 304 Not Modified.
    NotModified,
    /// Serve the representation; `honour_range` says whether a `Range` header may apply
    /// (false when `If-Range` does not match: send the whole representation with 200).
    Serve { honour_range: bool },
}

/// Evaluates the preconditions of a GET or HEAD request (RFC 9110 section 13.2.2).
pub fn evaluate(headers: &HeaderMap, v: &Validators) -> Decision {
    // Step 1: If-Match, strong comparison; without a current ETag only "*" could match, and we
    // always have a representation here.
    if let Some(value) = text(headers, header::IF_MATCH) {
        if !matches_list(value, v.etag.as_deref(), Comparison::Strong) {
            return Decision::PreconditionFailed;
        }
    } else if let Some(since) = date(headers, header::IF_UNMODIFIED_SINCE) {
        // Step 2: only without If-Match; an unparseable date is ignored.
        if let Some(modified) = v.last_modified {
            if modified > since {
                return Decision::PreconditionFailed;
            }
        }
    }
    // Step 3: If-None-Match, weak comparison; GET and HEAD get 304.
    if let Some(value) = text(headers, header::IF_NONE_MATCH) {
        if matches_list(value, v.etag.as_deref(), Comparison::Weak) {
            return Decision::NotModified;
        }
    } else if let Some(since) = date(headers, header::IF_MODIFIED_SINCE) {
        // Step 4: only without If-None-Match.
        if let Some(modified) = v.last_modified {
            if modified <= since {
                return Decision::NotModified;
            }
        }
    }
    // Step 5: If-Range decides whether Range applies (section 13.1.5).
    let honour_range = match text(headers, header::IF_RANGE) {
        None => true,
        Some(value) => if_range_matches(value.trim(), v),
    };
    Decision::Serve { honour_range }
}

/// `If-Range` holds one entity tag or one HTTP-date; it matches only a strong, current
/// validator. A weak tag never matches (section 13.1.5).
fn if_range_matches(value: &str, v: &Validators) -> bool {
    if value.starts_with('"') {
        return v.etag.as_deref() == Some(value);
    }
    if value.starts_with("W/") {
        return false;
    }
    match (httpdate::parse_http_date(value), v.last_modified) {
        (Ok(date), Some(modified)) => date == modified,
        _ => false,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether the comma-separated entity-tag list (or `*`) matches `current`.
fn matches_list(list: &str, current: Option<&str>, how: Comparison) -> bool {
    let Some(current) = current else {
        return false;
    };
    if list.trim() == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|tag| {
        let (weak, opaque) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        match how {
            Comparison::Strong => !weak && opaque == current,
            Comparison::Weak => opaque == current,
        }
    })
}

fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    text(headers, name).and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

/// `t` truncated to whole seconds, as HTTP dates carry it.
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TAG: &str = "\"abc\"";

    fn validators() -> Validators {
        Validators {
            etag: Some(TAG.to_string()),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        }
    }

    fn date_of(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn decide(pairs: &[(header::HeaderName, &str)]) -> Decision {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        evaluate(&headers, &validators())
    }

    const SERVE: Decision = Decision::Serve { honour_range: true };
    const FULL: Decision = Decision::Serve {
        honour_range: false,
    };

    #[test]
    fn no_conditions_serve() {
        assert_eq!(decide(&[]), SERVE);
    }

    #[test]
    fn if_none_match() {
        use header::IF_NONE_MATCH as INM;
        assert_eq!(decide(&[(INM, TAG)]), Decision::NotModified);
        assert_eq!(decide(&[(INM, "W/\"abc\"")]), Decision::NotModified);
        assert_eq!(decide(&[(INM, "\"x\", \"abc\"")]), Decision::NotModified);
        assert_eq!(decide(&[(INM, "*")]), Decision::NotModified);
        assert_eq!(decide(&[(INM, "\"other\"")]), SERVE);
    }

    #[test]
    fn if_modified_since() {
        use header::IF_MODIFIED_SINCE as IMS;
        assert_eq!(
            decide(&[(IMS, &date_of(1_700_000_000))]),
            Decision::NotModified
        );
        assert_eq!(
            decide(&[(IMS, &date_of(1_800_000_000))]),
            Decision::NotModified
        );
        assert_eq!(decide(&[(IMS, &date_of(1_600_000_000))]), SERVE);
        assert_eq!(decide(&[(IMS, "not a date")]), SERVE);
        // If-None-Match takes precedence over If-Modified-Since (step 4 only without it).
        assert_eq!(
            decide(&[
                (header::IF_NONE_MATCH, "\"other\""),
                (IMS, &date_of(1_800_000_000))
            ]),
            SERVE
        );
    }

    #[test]
    fn if_match_and_if_unmodified_since() {
        assert_eq!(decide(&[(header::IF_MATCH, TAG)]), SERVE);
        assert_eq!(decide(&[(header::IF_MATCH, "*")]), SERVE);
        assert_eq!(
            decide(&[(header::IF_MATCH, "W/\"abc\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(
            decide(&[(header::IF_MATCH, "\"x\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(
            decide(&[(header::IF_UNMODIFIED_SINCE, &date_of(1_600_000_000))]),
            Decision::PreconditionFailed
        );
        assert_eq!(
            decide(&[(header::IF_UNMODIFIED_SINCE, &date_of(1_700_000_000))]),
            SERVE
        );
        // If-Match wins over If-Unmodified-Since, and 412 wins over 304.
        assert_eq!(
            decide(&[
                (header::IF_MATCH, TAG),
                (header::IF_UNMODIFIED_SINCE, &date_of(1_600_000_000))
            ]),
            SERVE
        );
        assert_eq!(
            decide(&[(header::IF_MATCH, "\"x\""), (header::IF_NONE_MATCH, TAG)]),
            Decision::PreconditionFailed
        );
    }

    #[test]
    fn if_range() {
        use header::IF_RANGE as IR;
        assert_eq!(decide(&[(IR, TAG)]), SERVE);
        assert_eq!(decide(&[(IR, "\"stale\"")]), FULL);
        assert_eq!(decide(&[(IR, "W/\"abc\"")]), FULL);
        assert_eq!(decide(&[(IR, &date_of(1_700_000_000))]), SERVE);
        assert_eq!(decide(&[(IR, &date_of(1_700_000_001))]), FULL);
        assert_eq!(decide(&[(IR, "garbage")]), FULL);
    }

    #[test]
    fn without_validators_nothing_matches() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        headers.insert(header::IF_RANGE, HeaderValue::from_static("\"abc\""));
        assert_eq!(evaluate(&headers, &Validators::default()), FULL);
    }
}
