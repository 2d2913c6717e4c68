//! Every URL web writes into a page, a redirect or a cookie, and the one percent-encoding of a
//! path segment they all use (also for the api paths `api.rs` calls).
//!
//! Only building URLs belongs here; which path goes to which handler is `routes.rs`. The
//! templates in `templates/` spell a few fixed links themselves (`/login`, `/logout`, form
//! actions on ids the api produced).

/// The home page, where a successful sign-in or a deleted video leads.
pub const HOME: &str = "/";

/// The sign-in form, where every signed-out visitor is sent.
pub const LOGIN: &str = "/login";

/// Percent-encodes one path segment (or query value), so a name can never add segments or a
/// query.
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// Everything but the unreserved characters of RFC 3986 section 2.3.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The watch page of a video, for every viewer alike.
pub fn watch(vid: &str) -> String {
    format!("/watch/{}", segment(vid))
}

/// The comments on the watch page, where a comment post or delete leads back to.
pub fn watch_comments(vid: &str) -> String {
    format!("{}#comments", watch(vid))
}

/// A user's page.
pub fn user(name: &str) -> String {
    format!("/u/{}", segment(name))
}

/// The link to the next (older) page of a list at `path`, empty when there is none.
pub fn older(path: &str, next: Option<String>) -> String {
    next.map(|cursor| format!("{path}?before={}", segment(&cursor)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape() {
        assert_eq!(segment("ann"), "ann");
        assert_eq!(segment("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(segment("é"), "%C3%A9");
        assert_eq!(segment("a.b-c_d~e"), "a.b-c_d~e");
    }

    #[test]
    fn page_links() {
        assert_eq!(watch("v/1"), "/watch/v%2F1");
        assert_eq!(watch_comments("v1"), "/watch/v1#comments");
        assert_eq!(user("ann b"), "/u/ann%20b");
        assert_eq!(older("/", Some("a&b".into())), "/?before=a%26b");
        assert_eq!(older("/u/ann", None), "");
    }
}
