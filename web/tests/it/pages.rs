//! The pages and form posts against the real api: cookie flags, the form coming back with the
//! api's message, sign-in that returns where it was asked for, watch links that work for every
//! viewer, static assets and error pages.

use std::future::IntoFuture;
use std::time::Duration;

use crate::site::{not_a_video, Reply, Visitor, PWD};
use crate::support::{Options, Platform};

#[tokio::test]
async fn sign_in_sets_http_only_lax_cookies_and_sign_out_clears_them() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    let reply = web
        .credentials("/register", "carol", PWD)
        .same_origin()
        .await;
    reply.assert_redirect("/studio");
    assert_eq!(reply.set_cookies().len(), 1, "only the session cookie");
    let session = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .expect("a session cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1800"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    assert!(
        !session.contains("Secure"),
        "Secure is only for COOKIE_SECURE=true"
    );
    let id = session
        .trim_start_matches("session=")
        .split(';')
        .next()
        .unwrap();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "the cookie holds the api's session id"
    );
    let carol = Visitor::signed_in("carol", &reply);

    // The studio shows the user and renews the cookie.
    let studio = web.get("/studio").by(&carol).await;
    assert_eq!(studio.status, 200);
    assert_eq!(studio.set_cookies().len(), 1);
    assert!(studio.set_cookies()[0].starts_with("session="));
    let page = studio.text();
    assert!(
        page.contains("carol") && page.contains("Upload a video"),
        "{page}"
    );
    assert!(
        !page.contains(id),
        "the session id must never be in the page"
    );

    // Sign out revokes the session at the api, clears the cookie and shows the front page.
    let out = web.post("/logout").by(&carol).same_origin().await;
    out.assert_redirect("/");
    assert_eq!(out.set_cookies().len(), 1);
    assert!(out.set_cookies()[0].starts_with("session=;"));
    assert!(out.set_cookies()[0].contains("Max-Age=0"));
    let api = web.get("/api/user/carol/videos").by(&carol).await;
    assert_eq!(api.status, 401, "the old session must be revoked");
    // A stale cookie on a page that needs a session: sign in, come back, and the cookie goes.
    let stale = web.get("/studio").by(&carol).await;
    stale.assert_redirect("/login?next=%2Fstudio");
    assert!(stale.set_cookies()[0].contains("Max-Age=0"));

    // Signing in again works, also from a client that sends no Origin, and goes where `next`
    // says when it is a path of this site.
    let again = web.credentials("/login", "carol", PWD).await;
    again.assert_redirect("/studio");
    assert!(again.cookie_header().contains("session="));
    for (next, goes) in [
        ("/watch/abc?t=1", "/watch/abc?t=1"),
        ("https://evil.example/", "/studio"),
        ("//evil.example/", "/studio"),
    ] {
        let reply = web
            .post("/login")
            .form(&[("user_name", "carol"), ("pwd", PWD), ("next", next)])
            .await;
        reply.assert_redirect(goes);
    }
    // The sign-in form carries `next` along, and a signed-in visitor goes straight there.
    let form = web.get("/login?next=%2Fu%2Fcarol").await;
    form.assert_page(200, "name=\"next\" value=\"/u/carol\"");
    let carol = Visitor::signed_in("carol", &again);
    web.get("/login?next=%2Fu%2Fcarol")
        .by(&carol)
        .await
        .assert_redirect("/u/carol");
}

#[tokio::test]
async fn forms_come_back_with_the_api_message() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    web.register("dave").await;
    let attempt = |path: &'static str, name: &'static str, pwd: &'static str| async move {
        let reply = web.credentials(path, name, pwd).await;
        assert!(reply.set_cookies().is_empty(), "{path} {name}: {reply:?}");
        reply
    };
    let failed = attempt("/login", "dave", "wrong password").await;
    // The api's words for programmers become a plain sentence next to the password field.
    failed.assert_page(
        401,
        "The user name or password is wrong. Check both and try again.",
    );
    assert!(failed
        .text()
        .contains("aria-invalid=\"true\" aria-describedby=\"login-error\""));
    assert!(!failed.text().contains("user authentication failed"));
    assert!(failed.text().contains("value=\"dave\""), "the name is kept");
    attempt("/register", "dave", "another password")
        .await
        .assert_page(409, "That user name is taken. Choose another one.");
    let bad_name = attempt("/register", "bad name!", "long enough pw").await;
    assert!(matches!(bad_name.status, 400 | 422), "{bad_name:?}");
    assert!(bad_name.text().contains(
        "User name may use only letters, digits, and the characters _ - and . (no spaces)."
    ));
    let short = attempt("/register", "shortpw", "short").await;
    assert!(matches!(short.status, 400 | 422), "{short:?}");
    assert!(short
        .text()
        .contains("Password must be at least 8 characters."));
    assert!(!short.text().contains("pwd must be"));
    assert_eq!(attempt("/login", "", "").await.status, 422);
    // User text is escaped.
    let page = attempt("/login", "<script>x</script>", "whatever12").await;
    assert!(!page.text().contains("<script>x"), "{}", page.text());
}

#[tokio::test]
async fn errors_are_clear_pages() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    let login = web.get("/login").await;
    login.assert_page(200, "name=\"viewport\"");
    let page = login.text();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets: {page}"
    );

    let erin = web.register("erin").await;
    for path in [
        "/watch/00000000-0000-4000-8000-000000000000",
        "/watch/00000000-0000-4000-8000-000000000000?u=erin",
        "/watch/not-a-video",
        "/u/nobody-here",
        "/no/such/page",
        "/api",
    ] {
        web.get(path)
            .by(&erin)
            .html()
            .await
            .assert_page(404, "Not found");
    }
    web.get("/u/erin")
        .by(&erin)
        .html()
        .await
        .assert_page(200, "erin has not published anything yet");
    // Deleting someone else's (or no) video is refused with the api's answer.
    let refused = web
        .post("/my/videos/00000000-0000-4000-8000-000000000000/delete")
        .by(&erin)
        .html()
        .await;
    refused.assert_page(404, "Not found");
    // Wrong method on a page: 405 with Allow, and the site's headers.
    let wrong = web.request(reqwest::Method::DELETE, "/login").await;
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), "GET, HEAD, POST");
    assert_eq!(wrong.header("x-frame-options"), "DENY");
    // A script asking for an unknown page gets the JSON error body.
    web.get("/no/such/page").await.assert_json_error(404, "404");
}

#[tokio::test]
async fn static_assets_are_cached_and_nothing_else_is_served() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    let css = web
        .get("/login")
        .await
        .link_starting("/static/site.css")
        .expect("the page links a versioned stylesheet");
    let versioned = web.get(&css).await;
    assert_eq!(versioned.status, 200);
    assert!(versioned.header("cache-control").contains("immutable"));
    assert!(versioned.header("content-type").starts_with("text/css"));
    let revalidated = web
        .get("/static/site.css")
        .header("if-none-match", versioned.header("etag"))
        .await;
    assert_eq!(revalidated.status, 304);
    let tus = web.get("/static/vendor/tus.min.js").await;
    assert_eq!(tus.status, 200);
    assert!(tus.text().contains("tus"));
    for target in [
        "/static/",
        "/static/vendor/",
        "/static/vendor",
        "/static/../Cargo.toml",
        "/static/%2e%2e/web/Cargo.toml",
        "/static/vendor/../site.css",
        "/static//etc/passwd",
    ] {
        assert_eq!(
            web.raw_get_status(target, "127.0.0.1").await,
            404,
            "{target}"
        );
    }
}

#[tokio::test]
async fn a_file_that_is_not_a_playable_video_shows_as_failed_with_its_reason() {
    let p = Platform::start(Options {
        stream: true,
        scheduler: true,
        ..Options::default()
    })
    .await;
    let web = &p.web;
    let frank = web.register("frank").await;
    let vid = web.create_video(&frank, "broken").await;
    web.upload(&frank, &vid, not_a_video(100_000)).await;
    let line =
        svc::testing::eventually("the video shown as failed", Duration::from_secs(30), || {
            let home = web.get("/studio").by(&frank);
            async move {
                let page = home.await.text();
                page.lines()
                    .find(|l| l.contains("state-failed"))
                    .map(str::to_owned)
            }
        })
        .await;
    assert!(line.contains("Failed: "), "{line}");
    assert!(
        !line.contains("Failed: the file could not be processed"),
        "the scheduler's own reason should be shown: {line}"
    );
}

#[tokio::test]
async fn long_lists_are_paged_with_an_older_videos_link() {
    let p = Platform::start(Options::default()).await;
    let web = &p.web;
    let gina = web.register("gina").await;
    for i in 0..26 {
        web.create_video(&gina, &format!("clip {i}")).await;
    }
    let first = web.get("/studio").by(&gina).html().await;
    let page = first.text();
    assert_eq!(page.matches("<li class=\"video\"").count(), 24);
    assert!(page.contains("clip 25") && !page.contains("clip 1<"));
    let older = first
        .link_starting("/studio?before=")
        .expect("an Older videos link");
    let second = web.get(&older).by(&gina).html().await.text();
    assert_eq!(second.matches("<li class=\"video\"").count(), 2);
    assert!(second.contains("clip 0<") && second.contains("clip 1<"));
    assert!(!second.contains("Older videos"));
    for path in ["/studio?before=garbage", "/?before=garbage"] {
        web.get(path)
            .by(&gina)
            .html()
            .await
            .assert_page(400, "first page");
    }
}

#[tokio::test]
async fn watch_links_name_only_the_video_and_work_for_every_viewer() {
    // No scheduler: an uploaded video stays `uploaded` (playable, not yet processed).
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let vid = web.create_video(&ann, "harbour at dusk").await;
    let watch = format!("/watch/{vid}");
    let page = |path: String, who: &Visitor| web.get(&path).by(who).html().into_future();

    // The owner's studio shows the pending video's card without a link (nothing to watch
    // yet), with Resume, Retry and Delete; its watch page works for the owner.
    let home = page("/studio".into(), &ann).await;
    assert_eq!(
        home.link_starting("/watch/"),
        None,
        "a pending card is no link"
    );
    assert!(home.text().contains("removed automatically after a day"));
    let own = page(watch.clone(), &ann).await;
    own.assert_page(200, "harbour at dusk");
    assert!(own.text().contains("Delete video"), "the owner may delete");
    // Anyone else: not found while it cannot be played.
    assert_eq!(page(watch.clone(), &bob).await.status, 404);

    web.upload(&ann, &vid, not_a_video(10_000)).await;

    // Now the same link works for bob, and an old `?u=` (right, wrong or empty) is ignored.
    for path in [
        watch.clone(),
        format!("{watch}?u=ann"),
        format!("{watch}?u=bob"),
        format!("{watch}?u="),
    ] {
        let seen = page(path.clone(), &bob).await;
        seen.assert_page(200, "harbour at dusk");
        let text = seen.text();
        assert!(text.contains("id=\"author-link\">ann<"), "{path}: {text}");
        assert!(!text.contains("Delete video"), "{path}: {text}");
        assert!(!text.contains("name=\"u\""), "{path}: {text}");
    }
    let channel = page("/u/ann".into(), &bob).await;
    assert_eq!(channel.link_starting("/watch/").as_deref(), Some(&*watch));

    // bob comments and deletes his comment from the plain link; each answer leads back to it.
    let back = format!("{watch}#comments");
    let post = |path: String, form: &[(&str, &str)]| {
        web.post(&path)
            .by(&bob)
            .same_origin()
            .html()
            .form(form)
            .into_future()
    };
    post(format!("{watch}/comments"), &[("content", "lovely light")])
        .await
        .assert_redirect(&back);
    // A blank comment shows the page again with the api's message.
    let blank = post(format!("{watch}/comments"), &[("content", "   ")]).await;
    blank.assert_page(422, "Comment must not be empty.");
    assert!(blank.text().contains("id=\"comment-error\" role=\"alert\""));
    assert!(blank.text().contains("harbour at dusk"));
    let with_comment = page(watch.clone(), &bob).await;
    assert!(with_comment.text().contains("lovely light"));
    let cid = comment_id(&with_comment);
    post(format!("{watch}/comments/{cid}/delete"), &[])
        .await
        .assert_redirect(&back);
    let without = page(watch.clone(), &bob).await;
    assert!(!without.text().contains("lovely light"));
}

#[tokio::test]
async fn the_owner_sees_a_video_in_processing_as_its_progress_and_anyone_else_the_player() {
    // No scheduler: an uploaded video stays `uploaded`, which the streamserver serves.
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let ann = web.register("ann").await;
    let bob = web.register("bob").await;
    let vid = web.create_video(&ann, "harbour at dusk").await;
    let watch = format!("/watch/{vid}");
    let follow = format!("data-follow=\"/api/videos/{vid}\"");

    // Waiting for the upload: the owner's page says so and follows the video.
    let pending = web.get(&watch).by(&ann).html().await;
    pending.assert_page(200, "harbour at dusk");
    let text = pending.text();
    assert!(
        text.contains("id=\"processing-label\">Waiting for upload<"),
        "{text}"
    );
    assert!(text.contains(&follow), "{text}");
    assert!(
        text.contains("/static/player.js?v="),
        "the page's script: {text}"
    );
    assert!(!text.contains("<video"), "{text}");

    // Uploaded, not processed yet: still "Processing…" to its owner, with an indeterminate bar
    // that has a name; anyone else gets the player and no polling.
    web.upload(&ann, &vid, not_a_video(10_000)).await;
    let own = web.get(&watch).by(&ann).html().await.text();
    assert!(
        own.contains("id=\"processing-label\">Processing…<"),
        "{own}"
    );
    assert!(
        own.contains(
            "<progress id=\"processing-bar\" max=\"100\" aria-label=\"Processing progress\">"
        ),
        "{own}"
    );
    assert!(own.contains(&follow) && !own.contains("<video"), "{own}");
    let theirs = web.get(&watch).by(&bob).html().await.text();
    assert!(
        theirs.contains(&format!(
            "<video id=\"player\" controls preload=\"metadata\" playsinline src=\"/videos/{vid}\""
        )),
        "{theirs}"
    );
    assert!(
        !theirs.contains("data-follow") && !theirs.contains("processing-label"),
        "{theirs}"
    );

    // What the owner's page polls: the video object, through web's proxy of the api.
    let polled = web.get(&format!("/api/videos/{vid}")).by(&ann).await;
    assert_eq!(polled.status, 200, "{}", polled.text());
    assert_eq!(polled.json()["state"], "uploaded");
}

/// The id of the first comment on a watch page.
fn comment_id(page: &Reply) -> String {
    page.text()
        .split("data-comment-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the comment's id")
        .to_string()
}
