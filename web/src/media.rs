//! Where a page points a video's media (issue 16): at this site, through the proxy, or at the
//! media origin (`MEDIA_URL`), where browsers reach the streamserver directly.
//!
//! With a media origin the api's video objects name absolute URLs on it (signed ones for what
//! only their owner may see); a page takes those, and only those: a URL the api names anywhere
//! else is never written into a page, the page uses the same file's plain path on the media
//! origin instead. Without one, pages keep to this site's own paths whatever the api says, as
//! before. Which URL goes into which attribute is `views.rs`; the redirect of old same-origin
//! links is answered in `routes.rs` with [`MediaOrigin::redirect`].

/// The media origin, if the site has one.
#[derive(Debug, Clone, Default)]
pub struct MediaOrigin {
    /// `MEDIA_URL`: scheme, host and port, no trailing slash.
    base: Option<String>,
}

impl MediaOrigin {
    pub fn new(base: Option<String>) -> Self {
        MediaOrigin { base }
    }

    /// `MEDIA_URL`, or `None` when media stay on this site.
    pub fn base(&self) -> Option<&str> {
        self.base.as_deref()
    }

    /// The URL a page uses for the media file whose path on this site is `own`
    /// (`/videos/<vid>`): the api's `given` when it lies on the media origin, else `own` there;
    /// `own` itself when there is no media origin.
    pub fn pick(&self, given: Option<&str>, own: String) -> String {
        let Some(base) = self.base() else {
            return own;
        };
        match given {
            Some(url) if on_origin(url, base) => url.to_string(),
            _ => format!("{base}{own}"),
        }
    }

    /// `own` (a path of the streamserver's) as anyone may fetch it without a session: on the
    /// media origin when there is one, else on the site (`public_url`). For link previews and
    /// feeds, which only ever name what is visible to everyone.
    pub fn public(&self, own: &str, public_url: &str) -> String {
        format!("{}{own}", self.base().unwrap_or(public_url))
    }

    /// Where an old same-origin media link (`/videos/...`, `/thumbnails/...`, with its query)
    /// now lives, when there is a media origin.
    pub fn redirect(&self, path_and_query: &str) -> Option<String> {
        self.base().map(|base| format!("{base}{path_and_query}"))
    }
}

/// Whether `url` names a path on `base`: `base` followed by `/`, without control characters,
/// whitespace or backslashes (which some browsers read as `/`), so no prefix trick such as
/// `https://media.example.org.evil.example/` or `https://media.example.org@evil.example/`
/// passes.
fn on_origin(url: &str, base: &str) -> bool {
    let clean = !url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    clean
        && url
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://media.example.org";

    #[test]
    fn without_a_media_origin_pages_keep_to_this_site() {
        let m = MediaOrigin::default();
        assert_eq!(
            m.pick(
                Some("https://media.example.org/videos/v1"),
                "/videos/v1".into()
            ),
            "/videos/v1"
        );
        assert_eq!(m.pick(None, "/videos/v1".into()), "/videos/v1");
        assert_eq!(
            m.public("/videos/v1", "https://site.example"),
            "https://site.example/videos/v1"
        );
        assert_eq!(m.redirect("/videos/v1?x=1"), None);
    }

    #[test]
    fn the_api_urls_on_the_media_origin_are_taken_and_no_others() {
        let m = MediaOrigin::new(Some(BASE.into()));
        let signed = "https://media.example.org/s/9-7-00ff/videos/v1";
        assert_eq!(m.pick(Some(signed), "/videos/v1".into()), signed);
        for foreign in [
            "https://evil.example/videos/v1",
            "https://media.example.org.evil.example/videos/v1",
            "https://media.example.org@evil.example/videos/v1",
            "https://media.example.org:444/videos/v1",
            "http://media.example.org/videos/v1",
            "https://media.example.org",
            "https://media.example.org/\\evil",
            "https://media.example.org/videos/v1\" onerror=\"x",
            "/videos/v1",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                m.pick(Some(foreign), "/videos/v1".into()),
                "https://media.example.org/videos/v1",
                "{foreign}"
            );
        }
        assert_eq!(
            m.pick(None, "/thumbnails/v1".into()),
            "https://media.example.org/thumbnails/v1"
        );
        assert_eq!(
            m.public("/videos/v1", "https://site.example"),
            "https://media.example.org/videos/v1"
        );
        assert_eq!(
            m.redirect("/videos/v1/hls/master.m3u8?a=b").as_deref(),
            Some("https://media.example.org/videos/v1/hls/master.m3u8?a=b")
        );
    }
}
