//! Every URL web writes into a page, a redirect or a cookie, and the one percent-encoding of a
//! path segment they all use (also for the api paths `api.rs` calls).
//!
//! Only building URLs belongs here; which path goes to which handler is `routes.rs`. The
//! templates in `templates/` spell a few fixed links themselves (`/login`, `/logout`, form
//! actions on ids the api produced).

/// The front page: the newest public videos, for everyone; where signing out leads.
pub const HOME: &str = "/";

/// The signed-in user's own videos and the upload: where signing in and deleting a video lead.
pub const STUDIO: &str = "/studio";

/// The sign-in form.
pub const LOGIN: &str = "/login";

/// The search results page.
pub const SEARCH: &str = "/search";

/// The signed-in user's favourite videos.
pub const FAVORITES: &str = "/favorites";

/// The newest videos of the channels the signed-in user follows.
pub const SUBSCRIPTIONS: &str = "/subscriptions";

/// The sign-in form, and after it `next` (a path on this site).
pub fn login_then(next: &str) -> String {
    format!("{LOGIN}?next={}", segment(next))
}

/// `next` when it is a path on this site to go to after signing in, so the parameter cannot
/// send anyone elsewhere: it starts with one `/` (not `//` or `/\`, which browsers read as
/// another host) and holds no control characters.
pub fn safe_next(next: &str) -> Option<&str> {
    // A backslash anywhere is refused: some browsers read it as `/` (`/\evil`, `/x/..\..`).
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    let clean = !next.chars().any(|c| c.is_control()) && next.len() <= 2000;
    (local && clean).then_some(next)
}

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

/// The owner's edit page of a video.
pub fn edit(vid: &str) -> String {
    format!("{}/edit", watch(vid))
}

/// The bare player other sites may frame.
pub fn embed(vid: &str) -> String {
    format!("/embed/{}", segment(vid))
}

/// The video's bytes (the streamserver's playback, through web's proxy).
pub fn play(vid: &str) -> String {
    format!("/videos/{}", segment(vid))
}

/// The video's thumbnail (streamserver, through the proxy).
pub fn thumbnail(vid: &str) -> String {
    format!("/thumbnails/{}", segment(vid))
}

/// The HLS master playlist (streamserver, through the proxy). Built here rather than taken from
/// the api's `hls_url`, so a page only ever points at this site's own `/videos/` paths (or, with
/// a media origin, at the same path there: `media.rs`).
pub fn hls(vid: &str) -> String {
    format!("/videos/{}/hls/master.m3u8", segment(vid))
}

/// The storyboard's WebVTT file; its cues name `storyboard.jpg` relative to it.
pub fn storyboard(vid: &str) -> String {
    format!("/videos/{}/storyboard.vtt", segment(vid))
}

/// The video object through web's proxy of the api (`/api/videos/{vid}`), which the watch page
/// polls while the video is processed.
pub fn api_video(vid: &str) -> String {
    format!("/api/videos/{}", segment(vid))
}

/// The comments on the watch page, where a comment post or delete leads back to.
pub fn watch_comments(vid: &str) -> String {
    format!("{}#comments", watch(vid))
}

/// A user's channel page.
pub fn user(name: &str) -> String {
    format!("/u/{}", segment(name))
}

/// The form post that adds a video to the visitor's favourites or takes it out.
pub fn favorite(vid: &str) -> String {
    format!("{}/favorite", watch(vid))
}

/// The form post that follows a channel or stops following it.
pub fn follow(name: &str) -> String {
    format!("{}/follow", user(name))
}

/// A channel's Atom feed.
pub fn feed(name: &str) -> String {
    format!("{}/feed.xml", user(name))
}

/// The results page for `q`.
pub fn search(q: &str) -> String {
    format!("{SEARCH}?q={}", segment(q))
}

/// The link to the next (older) page of a list at `path` (which may have a query already),
/// empty when there is none.
pub fn older(path: &str, next: Option<String>) -> String {
    let join = if path.contains('?') { '&' } else { '?' };
    next.map(|cursor| format!("{path}{join}before={}", segment(&cursor)))
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
        assert_eq!(
            older(&search("a b&c"), Some("x".into())),
            "/search?q=a%20b%26c&before=x"
        );
        assert_eq!(edit("v1"), "/watch/v1/edit");
        assert_eq!(embed("v/1"), "/embed/v%2F1");
        assert_eq!(play("v1"), "/videos/v1");
        assert_eq!(thumbnail("v/1"), "/thumbnails/v%2F1");
        assert_eq!(api_video("v/1"), "/api/videos/v%2F1");
        assert_eq!(feed("ann b"), "/u/ann%20b/feed.xml");
        assert_eq!(login_then("/watch/v1"), "/login?next=%2Fwatch%2Fv1");
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/", "/studio", "/watch/v1?t=3#c", "/search?q=%2F%2Fx"] {
            assert_eq!(safe_next(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "/watch\\..\\\\evil.example",
            "javascript:alert(1)",
            "studio",
            "/watch\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(safe_next(&format!("/{}", "a".repeat(3000))), None);
    }
}
