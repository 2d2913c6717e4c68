//! Public sharing as the site shows it (issue 10): the front page, the studio, watch pages
//! signed out, the owner's edit page, channels and their Atom feed (read by a real feed parser),
//! search, the embed player and who may frame what, link previews with absolute URLs, and
//! signed-in state from the session cookie alone. The real api and streamserver run in-process
//! on a fresh database: what a viewer may see is the api's rule, and these tests check that
//! every page shows exactly that and nothing more.

use std::time::Duration;

use serde_json::{json, Value};

use crate::site::{Reply, Site, Visitor};
use crate::support::{make_mp4, test_tool, Options, Platform};

/// A video id no video has.
const NO_SUCH_VIDEO: &str = "00000000-0000-4000-8000-000000000000";

/// ann's videos: one of each visibility, playable, and one still waiting for its bytes.
struct Catalogue {
    public: String,
    unlisted: String,
    private: String,
    pending: String,
}

impl Catalogue {
    async fn of(web: &Site, ann: &Visitor) -> Self {
        Catalogue {
            public: web.publish(ann, "Harbour at dusk", "public").await,
            unlisted: web.publish(ann, "Secret garden", "unlisted").await,
            private: web.publish(ann, "Family dinner", "private").await,
            pending: web.create_video(ann, "Not uploaded yet").await,
        }
    }

    /// Every video but the public one: what no list may show to anyone but ann.
    fn unlisted_to_others(&self) -> [&str; 3] {
        [&self.unlisted, &self.private, &self.pending]
    }
}

/// The `data-video-id`s of the cards on a page, in order.
fn cards(page: &Reply) -> Vec<String> {
    page.text()
        .split("<li class=\"video\" data-video-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_front_page_lists_public_playable_videos_for_everyone() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let c = Catalogue::of(web, &ann).await;
    let bob = web.register("bob").await;
    for who in [None, Some(&bob), Some(&ann)] {
        let front = web.page("/", who).await;
        front.assert_page(200, "Newest videos");
        assert_eq!(cards(&front), [c.public.as_str()], "{who:?}");
        let text = front.text();
        // A card: thumbnail link, title, channel and age.
        assert!(text.contains("Harbour at dusk"), "{text}");
        assert!(text.contains("href=\"/u/ann\""), "{text}");
        assert!(text.contains("<time datetime=\""), "{text}");
        assert!(text.contains("just now"), "{text}");
        // Signed out: a sign-in link and no studio; signed in: the studio is one click away.
        assert_eq!(text.contains("href=\"/studio\""), who.is_some(), "{text}");
        assert_eq!(
            text.contains("id=\"sign-in-link\""),
            who.is_none(),
            "{text}"
        );
        assert!(
            text.contains("action=\"/search\""),
            "the search box: {text}"
        );
    }
}

#[tokio::test]
async fn the_studio_shows_the_signed_in_users_videos_in_every_state_and_visibility() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    web.page("/studio", None)
        .await
        .assert_redirect("/login?next=%2Fstudio");
    let ann = web.register("ann").await;
    let c = Catalogue::of(web, &ann).await;
    let studio = web.page("/studio", Some(&ann)).await;
    studio.assert_page(200, "Upload a video");
    let mut shown = cards(&studio);
    shown.sort();
    let mut all = vec![
        c.public.clone(),
        c.unlisted.clone(),
        c.private.clone(),
        c.pending.clone(),
    ];
    all.sort();
    assert_eq!(shown, all);
    let text = studio.text();
    for words in [
        "badge-unlisted\">Unlisted<",
        "badge-private\">Private<",
        "Waiting for upload",
        "Processing…",
        &format!("href=\"/watch/{}/edit\"", c.private),
        // The upload form sets title, description and visibility (public unless chosen).
        "id=\"upload-description\"",
        "name=\"visibility\" value=\"public\" checked",
        "name=\"visibility\" value=\"unlisted\">",
        "name=\"visibility\" value=\"private\">",
        "href=\"/u/ann\"",
    ] {
        assert!(text.contains(words), "no {words:?} in {text}");
    }
    // Someone else's studio is their own.
    let bob = web.register("bob").await;
    assert!(cards(&web.page("/studio", Some(&bob)).await).is_empty());
    // What the studio's script sends on upload is what the video gets.
    let vid = web
        .create_video_as(
            &ann,
            json!({"name": "With words", "description": "Line one\nLine two", "visibility": "unlisted"}),
        )
        .await;
    let mine = web.page("/studio", Some(&ann)).await;
    assert_eq!(cards(&mine)[0], vid, "newest first");
}

#[tokio::test]
async fn watch_pages_work_signed_out_for_public_and_unlisted_videos() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let c = Catalogue::of(web, &ann).await;
    for vid in [&c.public, &c.unlisted] {
        let back = format!("/watch/{vid}#comments");
        web.comment(Some(&bob), vid, "what a view")
            .await
            .assert_redirect(&back);
        let page = web.page(&format!("/watch/{vid}"), None).await;
        page.assert_page(200, "what a view");
        let text = page.text();
        assert!(!text.contains("comment-form"), "no comment form: {text}");
        assert!(
            text.contains(&format!(
                "href=\"/login?next=%2Fwatch%2F{vid}\">Sign in</a>"
            )),
            "the invitation returns here: {text}"
        );
        assert!(text.contains("id=\"copy-link\""), "{text}");
        assert!(text.contains(&format!("src=\"/videos/{vid}\"")), "{text}");
        for owner_only in ["id=\"edit-link\"", "Delete video", "id=\"visibility\""] {
            assert!(!text.contains(owner_only), "{owner_only}: {text}");
        }
        // An unlisted video asks search engines not to index it.
        let indexed = page.meta("robots").is_none();
        assert_eq!(indexed, *vid == c.public, "{vid}");
        // Commenting signed out: sign in first, then back to the video.
        web.comment(None, vid, "hello")
            .await
            .assert_redirect(&format!("/login?next=%2Fwatch%2F{vid}"));
    }
    // A private, pending or unknown video is the same "not found" page to anyone else.
    for vid in [c.private.as_str(), &c.pending, NO_SUCH_VIDEO, "not-an-id"] {
        for who in [None, Some(&bob)] {
            web.page(&format!("/watch/{vid}"), who)
                .await
                .assert_page(404, "Not found");
        }
    }
    web.comment(Some(&bob), &c.private, "sneaky")
        .await
        .assert_page(404, "Not found");
    // Its owner sees the private video with its visibility, Edit first and Delete after.
    let own = web.page(&format!("/watch/{}", c.private), Some(&ann)).await;
    own.assert_page(200, "Family dinner");
    let text = own.text();
    assert!(text.contains("id=\"visibility\" title=\"Who can watch it\">Private<"));
    let edit = text.find("id=\"edit-link\"").expect("an Edit link");
    let delete = text.find("Delete video").expect("a delete button");
    assert!(edit < delete, "Edit comes first");
    assert!(text.contains("class=\"card comment-form\""), "{text}");
    let public = web.page(&format!("/watch/{}", c.public), Some(&ann)).await;
    assert!(public
        .text()
        .contains("id=\"visibility\" title=\"Who can watch it\">Public<"));
    // Without a description or a thumbnail (not processed yet) the preview still says
    // something, and makes no image up.
    assert_eq!(
        public.meta("og:description").as_deref(),
        Some("A video by ann on Clipshare")
    );
    assert_eq!(public.meta("og:image"), None);
    assert_eq!(public.meta("twitter:card").as_deref(), Some("summary"));
}

#[tokio::test]
async fn only_the_owner_edits_a_video_and_everyone_sees_the_edit() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let c = Catalogue::of(web, &ann).await;
    let (vid, edit) = (&c.public, format!("/watch/{}/edit", c.public));
    let to_login = "/login?next=%2Fwatch%2F".to_string() + vid + "%2Fedit";
    web.page(&edit, None).await.assert_redirect(&to_login);
    web.post(&edit)
        .same_origin()
        .form(&[("name", "mine now")])
        .await
        .assert_redirect(&to_login);
    // Someone else: not theirs (403) when they can see the video, not found when they cannot.
    web.page(&edit, Some(&bob))
        .await
        .assert_page(403, "Only the person who uploaded");
    web.page(&format!("/watch/{}/edit", c.private), Some(&bob))
        .await
        .assert_page(404, "Not found");
    let fields = [
        ("name", "Harbour at night"),
        ("description", "Line one\r\nLine two <b>"),
        ("visibility", "unlisted"),
    ];
    web.edit(&bob, vid, &fields)
        .await
        .assert_page(403, "Not allowed");
    // A form from another site changes nothing.
    let foreign = web
        .post(&edit)
        .by(&ann)
        .header("origin", "http://evil.example")
        .html()
        .form(&fields)
        .await;
    foreign.assert_page(403, "another web site");
    assert!(web.page("/", None).await.shows(vid), "still public");

    // The owner's form holds the video's values.
    let form = web.page(&edit, Some(&ann)).await;
    form.assert_page(200, "value=\"Harbour at dusk\"");
    assert!(form.text().contains("value=\"public\" checked"));
    // Out-of-bounds values bring the form back with the api's message and what was typed.
    let empty = web
        .edit(
            &ann,
            vid,
            &[
                ("name", " "),
                ("description", "kept"),
                ("visibility", "public"),
            ],
        )
        .await;
    empty.assert_page(422, "Title must not be empty.");
    assert!(empty
        .text()
        .contains("aria-invalid=\"true\" aria-describedby=\"edit-error\""));
    assert!(
        empty.text().contains(">kept</textarea>"),
        "{}",
        empty.text()
    );
    let long = "d".repeat(5001);
    let too_long = [
        ("name", "ok"),
        ("description", &long),
        ("visibility", "public"),
    ];
    web.edit(&ann, vid, &too_long)
        .await
        .assert_page(422, "Description must be at most 5000 characters.");
    let odd = [
        ("name", "ok"),
        ("description", ""),
        ("visibility", "secret"),
    ];
    web.edit(&ann, vid, &odd)
        .await
        .assert_page(400, "class=\"alert\"");

    // Saved: the watch page, and everyone sees the new words; unlisted leaves the lists.
    web.edit(&ann, vid, &fields)
        .await
        .assert_redirect(&format!("/watch/{vid}"));
    let watch = web.page(&format!("/watch/{vid}"), None).await;
    watch.assert_page(200, "Harbour at night");
    assert!(
        watch
            .text()
            .contains("id=\"description\">Line one\nLine two &#60;b&#62;</div>"),
        "{}",
        watch.text()
    );
    assert!(!web.page("/", None).await.shows(vid));
    assert!(!web.page("/u/ann", None).await.shows(vid));
    // Private: gone for everyone else, still there for ann.
    let private = [
        ("name", "Harbour at night"),
        ("description", ""),
        ("visibility", "private"),
    ];
    web.edit(&ann, vid, &private)
        .await
        .assert_redirect(&format!("/watch/{vid}"));
    web.page(&format!("/watch/{vid}"), None)
        .await
        .assert_page(404, "Not found");
    web.page(&format!("/watch/{vid}"), Some(&ann))
        .await
        .assert_page(200, ">Private<");
}

#[tokio::test]
async fn channel_pages_show_public_videos_and_their_owner_everything() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let c = Catalogue::of(web, &ann).await;
    for who in [None, Some(&bob)] {
        let channel = web.page("/u/ann", who).await;
        channel.assert_page(200, "id=\"video-count\">1 video<");
        assert_eq!(cards(&channel), [c.public.as_str()]);
        let text = channel.text();
        assert!(text.contains(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"ann on Clipshare\" href=\"/u/ann/feed.xml\">"
        ), "{text}");
        assert!(!text.contains("owner-note"));
    }
    let own = web.page("/u/ann", Some(&ann)).await;
    own.assert_page(200, "id=\"owner-note\"");
    assert_eq!(cards(&own).len(), 4);
    for words in ["badge-unlisted\">Unlisted<", "badge-private\">Private<"] {
        assert!(own.text().contains(words), "{words}");
    }
    for hidden in c.unlisted_to_others() {
        assert!(cards(&own).iter().any(|v| v == hidden));
    }
    web.page("/u/nobody", None)
        .await
        .assert_page(404, "Not found");
}

/// What feedparser (a real feed reader's parser, from PyPI) makes of a feed.
const FEEDPARSER: &str = r#"
import json, sys
import feedparser
d = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
    "bozo": bool(d.bozo),
    "error": str(d.get("bozo_exception", "")),
    "version": d.version,
    "title": d.feed.get("title"),
    "link": d.feed.get("link"),
    "updated": d.feed.get("updated"),
    "entries": [{
        "id": e.get("id"),
        "title": e.get("title"),
        "link": e.get("link"),
        "summary": e.get("summary"),
        "published": e.get("published"),
        "enclosures": [{"href": x.get("href"), "type": x.get("type"), "length": x.get("length")}
                       for x in e.get("enclosures", [])],
    } for e in d.entries],
}))
"#;

async fn feedparser(xml: &[u8]) -> Value {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(test_tool("venv/bin/python"))
        .args(["-c", FEEDPARSER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("running python with feedparser");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(xml).await.expect("writing the feed");
    drop(stdin);
    let out = child.wait_with_output().await.expect("feedparser's output");
    assert!(
        out.status.success(),
        "feedparser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script's JSON")
}

#[tokio::test]
async fn the_channel_feed_is_atom_that_feedparser_reads() {
    let p = Platform::start(Options {
        stream: true,
        public_url: Some("https://videos.example.org"),
        ..Options::default()
    })
    .await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let c = Catalogue::of(web, &ann).await;
    let described = web
        .create_video_as(
            &ann,
            json!({"name": "Tea & <cakes> 视频", "description": "Two\nlines", "visibility": "public"}),
        )
        .await;
    web.upload(&ann, &described, crate::site::patterned(4096))
        .await;

    let feed = web.get("/u/ann/feed.xml").await;
    assert_eq!(feed.status, 200, "{}", feed.text());
    assert_eq!(
        feed.header("content-type"),
        "application/atom+xml; charset=utf-8"
    );
    assert!(feed.header("cache-control").starts_with("public"));
    assert!(feed.set_cookies().is_empty());
    let parsed = feedparser(&feed.body).await;
    assert_eq!(parsed["bozo"], false, "{parsed:#}");
    assert_eq!(parsed["version"], "atom10");
    assert_eq!(parsed["title"], "ann on Clipshare");
    assert_eq!(parsed["link"], "https://videos.example.org/u/ann");
    let base = "https://videos.example.org";
    let entries = parsed["entries"].as_array().expect("entries");
    // Public playable videos only, newest first, every URL absolute.
    assert_eq!(entries.len(), 2, "{parsed:#}");
    assert_eq!(entries[0]["id"], format!("urn:uuid:{described}"));
    assert_eq!(entries[0]["title"], "Tea & <cakes> 视频");
    assert_eq!(entries[0]["summary"], "Two\nlines");
    assert_eq!(entries[0]["link"], format!("{base}/watch/{described}"));
    assert_eq!(
        entries[0]["enclosures"],
        json!([{"href": format!("{base}/videos/{described}"), "type": "video/mp4", "length": "4096"}])
    );
    assert_eq!(entries[1]["id"], format!("urn:uuid:{}", c.public));
    assert_eq!(entries[1]["title"], "Harbour at dusk");
    assert!(entries[1]["published"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    for hidden in c.unlisted_to_others() {
        assert!(!feed.text().contains(hidden), "{hidden} is in the feed");
    }
    // The owner's feed reader gets the same feed: it never carries private videos.
    let own = web.get("/u/ann/feed.xml").by(&ann).await;
    assert_eq!(own.body, feed.body);
    // An empty channel is a valid feed too; an unknown one is 404.
    let bob = web.register("bob").await;
    web.publish(&bob, "bob's secret", "private").await;
    let empty = web.get("/u/bob/feed.xml").await;
    let parsed = feedparser(&empty.body).await;
    assert_eq!(parsed["bozo"], false, "{parsed:#}");
    assert_eq!(parsed["entries"], json!([]));
    web.get("/u/nobody/feed.xml")
        .await
        .assert_json_error(404, "404");
}

/// api, streamserver and web, with no limit on searches (these tests search often, all from
/// one address).
fn searching() -> Options {
    Options {
        search_rate: Some(0),
        ..Options::with_stream()
    }
}

#[tokio::test]
async fn search_finds_public_titles_in_any_script() {
    let p = Platform::start(searching()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let chinese = web.publish(&ann, "我的第一个视频", "public").await;
    let mountains = web.publish(&ann, "Mountains at dawn", "public").await;
    let unlisted = web.publish(&ann, "另一个视频", "unlisted").await;
    let private = web.publish(&ann, "视频 Mountains private", "private").await;
    for who in [None, Some(&bob), Some(&ann)] {
        let found = web.page("/search?q=%E8%A7%86%E9%A2%91", who).await;
        found.assert_page(200, "Results for");
        assert_eq!(cards(&found), [chinese.as_str()], "{who:?}");
        let text = found.text();
        assert!(
            text.contains("id=\"search-q\" value=\"视频\""),
            "the box keeps the query"
        );
        assert!(text.contains("<span id=\"query\">视频</span>"));
        let mount = web.page("/search?q=mount", who).await;
        assert_eq!(cards(&mount), [mountains.as_str()], "{who:?}");
    }
    // The unlisted and private ones match words of their own, and are still never found.
    let another = web
        .page("/search?q=%E5%8F%A6%E4%B8%80%E4%B8%AA", Some(&ann))
        .await;
    assert!(cards(&another).is_empty(), "{}", another.text());
    let private_words = web.page("/search?q=mountains+private", Some(&ann)).await;
    assert!(!private_words.shows(&private) && !private_words.shows(&unlisted));
    let nothing = web.page("/search?q=%E9%9F%B3%E4%B9%90", None).await;
    nothing.assert_page(200, "id=\"no-results\"");
    // No query yet: a prompt, not an error.
    for path in ["/search", "/search?q=", "/search?q=%20%20"] {
        web.page(path, None)
            .await
            .assert_page(200, "id=\"search-prompt\"");
    }
    // Too long: the results page says why, with the api's status.
    let long = format!("/search?q={}", "a".repeat(201));
    web.page(&long, None)
        .await
        .assert_page(400, "id=\"search-error\"");
}

#[tokio::test]
async fn the_front_page_and_search_results_are_paged_without_repeats() {
    let p = Platform::start(searching()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let mut all = Vec::new();
    for i in 0..26 {
        all.push(web.publish(&ann, &format!("clip {i}"), "public").await);
    }
    all.sort();
    for (first, link) in [
        ("/", "/?before="),
        ("/search?q=clip", "/search?q=clip&before="),
    ] {
        let one = web.page(first, None).await;
        let mut seen = cards(&one);
        assert_eq!(seen.len(), 24, "{first}");
        let older = one.link_starting(link).expect("a link to the next page");
        let two = web.page(&older, None).await;
        assert_eq!(two.status, 200, "{}", two.text());
        seen.extend(cards(&two));
        assert!(two.link_starting(link).is_none(), "{first}: two pages");
        seen.sort();
        assert_eq!(seen, all, "{first}: every video once");
    }
    web.page("/search?q=clip&before=garbage", None)
        .await
        .assert_page(400, "first page");
}

#[tokio::test]
async fn only_the_embed_player_may_be_framed() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let c = Catalogue::of(web, &ann).await;
    for vid in [&c.public, &c.unlisted] {
        let embed = web.page(&format!("/embed/{vid}"), None).await;
        embed.assert_page(200, &format!("src=\"/videos/{vid}\""));
        embed.assert_framable();
        assert!(embed.text().contains(&format!(
            "href=\"http://127.0.0.1:8080/watch/{vid}\" target=\"_blank\""
        )));
        assert!(!embed.text().contains("class=\"topbar\""), "a bare player");
    }
    // Not available to everyone: a framable "not available", whoever asks (an embed never
    // depends on the viewer's cookies).
    for vid in [c.private.as_str(), &c.pending, NO_SUCH_VIDEO] {
        let embed = web.page(&format!("/embed/{vid}"), Some(&ann)).await;
        embed.assert_page(404, "This video is not available");
        embed.assert_framable();
    }
    let public = c.public.clone();
    for (path, who) in [
        ("/".to_string(), None),
        ("/studio".into(), Some(&ann)),
        ("/login".into(), None),
        (format!("/watch/{public}"), None),
        (format!("/watch/{public}"), Some(&ann)),
        (format!("/watch/{public}/edit"), Some(&ann)),
        (format!("/watch/{}", c.private), None),
        ("/u/ann".into(), None),
        ("/u/ann/feed.xml".into(), None),
        ("/search?q=harbour".into(), None),
        ("/no/such/page".into(), None),
    ] {
        let reply = web.page(&path, who).await;
        assert!(reply.status < 500, "{path}: {}", reply.status);
        reply.assert_not_framable();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_pages_preview_with_absolute_urls_from_public_url() {
    let p = Platform::start(Options {
        stream: true,
        scheduler: true,
        public_url: Some("https://videos.example.org"),
        ..Options::default()
    })
    .await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let description = "A calm evening by the sea.\nThe boats come home.";
    let vid = web
        .create_video_as(
            &ann,
            json!({"name": "Harbour \"at\" dusk", "description": description}),
        )
        .await;
    let file = p.dir.path().join("preview.mp4");
    make_mp4(&file, 1, "320x180");
    web.upload(&ann, &vid, std::fs::read(&file).unwrap()).await;
    // Processing makes the thumbnail the preview shows.
    svc::testing::eventually("the thumbnail", Duration::from_secs(60), || {
        let video = web.get(&format!("/api/videos/{vid}"));
        async move {
            let video = video.await.json();
            (video["state"] == "ready" && video["thumbnail_url"].is_string()).then_some(())
        }
    })
    .await;
    let base = "https://videos.example.org";
    let page = web.page(&format!("/watch/{vid}"), None).await;
    page.assert_page(200, "og:title");
    for (key, value) in [
        ("og:type", "video.other".to_string()),
        ("og:title", "Harbour \"at\" dusk".into()),
        (
            "og:description",
            "A calm evening by the sea. The boats come home.".into(),
        ),
        ("og:url", format!("{base}/watch/{vid}")),
        ("og:image", format!("{base}/thumbnails/{vid}")),
        ("og:video", format!("{base}/videos/{vid}")),
        ("og:video:type", "video/mp4".into()),
        ("og:video:width", "320".into()),
        ("og:video:height", "180".into()),
        ("twitter:card", "summary_large_image".into()),
        ("twitter:title", "Harbour \"at\" dusk".into()),
        ("twitter:image", format!("{base}/thumbnails/{vid}")),
    ] {
        assert_eq!(page.meta(key).as_deref(), Some(&*value), "{key}");
    }
    let text = page.text();
    assert!(
        text.contains(&format!("data-url=\"{base}/watch/{vid}\"")),
        "Copy link"
    );
    assert!(!text.contains("noindex"), "a public video may be indexed");
    // The image URL really is the thumbnail, through web.
    let thumb = web.get(&format!("/thumbnails/{vid}")).await;
    assert_eq!(thumb.status, 200);
    assert_eq!(thumb.header("content-type"), "image/jpeg");
}

#[tokio::test]
async fn signed_in_state_comes_from_the_session_cookie_alone() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let c = Catalogue::of(web, &ann).await;
    let again = web.credentials("/login", "ann", crate::site::PWD).await;
    let no_user_cookie = |reply: &Reply| {
        assert!(
            reply
                .set_cookies()
                .iter()
                .all(|c| c.starts_with("session=")),
            "{:?}",
            reply.set_cookies()
        );
    };
    no_user_cookie(&again);
    for path in ["/", "/studio", "/u/ann"] {
        no_user_cookie(&web.page(path, Some(&ann)).await);
    }
    assert!(!ann.cookie.contains("user="), "{}", ann.cookie);

    // ann's session with a forged name is ann, everywhere.
    let forged = Visitor {
        name: "ann".into(),
        cookie: format!("{}; user=bob", ann.cookie),
    };
    let front = web.page("/", Some(&forged)).await;
    assert!(
        front.text().contains("id=\"me-link\">ann<"),
        "{}",
        front.text()
    );
    assert!(web.page("/studio", Some(&forged)).await.shows(&c.private));
    assert!(web.page("/u/ann", Some(&forged)).await.shows(&c.private));
    assert!(!web
        .page("/u/bob", Some(&forged))
        .await
        .text()
        .contains("owner-note"));
    // bob's session claiming to be ann gets bob's answers.
    let claims = Visitor {
        name: "bob".into(),
        cookie: format!("user=ann; {}", bob.cookie),
    };
    assert!(!web.page("/studio", Some(&claims)).await.shows(&c.private));
    web.page(&format!("/watch/{}", c.private), Some(&claims))
        .await
        .assert_page(404, "Not found");
    // A name alone signs nobody in, and sets nothing.
    let name_only = Visitor {
        name: "ann".into(),
        cookie: "user=ann".into(),
    };
    let front = web.page("/", Some(&name_only)).await;
    assert!(front.text().contains("id=\"sign-in-link\""));
    assert!(front.set_cookies().is_empty());
    web.page("/studio", Some(&name_only))
        .await
        .assert_redirect("/login?next=%2Fstudio");
    // A session the api does not know reads as signed out, and the cookie goes.
    let made_up = Visitor {
        name: "ann".into(),
        cookie: format!("session={NO_SUCH_VIDEO}"),
    };
    let front = web.page("/", Some(&made_up)).await;
    front.assert_page(200, "id=\"sign-in-link\"");
    assert!(front.set_cookies()[0].contains("Max-Age=0"));

    // A session revoked elsewhere (here: straight at the api, which web's cache cannot see)
    // stops counting as signed in within web's cache lifetime of 2 s.
    let revoke = web
        .request(reqwest::Method::DELETE, "/api/user/bob")
        .by(&bob)
        .same_origin()
        .await;
    assert_eq!(revoke.status, 204, "{}", revoke.text());
    svc::testing::eventually(
        "the revoked session to read as signed out",
        Duration::from_secs(3),
        || {
            let page = web.page("/", Some(&bob));
            async move {
                let page = page.await;
                page.set_cookies()
                    .iter()
                    .any(|c| c.contains("Max-Age=0"))
                    .then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_search_over_its_rate_limit_is_a_page_that_says_so() {
    let p = Platform::start(Options {
        search_rate: Some(1),
        ..Options::default()
    })
    .await;
    let web = &p.web;
    web.page("/search?q=one", None)
        .await
        .assert_page(200, "id=\"no-results\"");
    let limited = web.page("/search?q=two", None).await;
    limited.assert_page(429, "id=\"search-error\"");
}
