//! The pages and form posts against the real api: cookie flags, the form coming back with the
//! api's message, signed-out redirects, watch links that work for every viewer, static assets
//! and error pages.

use crate::support::{client, cookie_header, raw_get_status, register, Options, Platform};

fn api_only() -> Options {
    Options {
        stream: false,
        scheduler: false,
        dead_upstreams: false,
    }
}

#[tokio::test]
async fn sign_in_sets_http_only_lax_cookies_and_sign_out_clears_them() {
    let p = Platform::start(api_only()).await;
    let resp = client()
        .post(p.web.url("/register"))
        .header("origin", p.web.url(""))
        .form(&[("user_name", "carol"), ("pwd", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/");
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("session="))
        .expect("a session cookie");
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
    let cookie = cookie_header(&resp);

    // Home shows the user and renews the cookie.
    let resp = client()
        .get(p.web.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("session=")));
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("carol") && page.contains("Upload a video"),
        "{page}"
    );
    assert!(
        !page.contains(id),
        "the session id must never be in the page"
    );

    // Sign out revokes the session at the api and clears both cookies.
    let resp = client()
        .post(p.web.url("/logout"))
        .header("cookie", &cookie)
        .header("origin", p.web.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login");
    let cleared: Vec<_> = resp.headers().get_all("set-cookie").iter().collect();
    assert!(cleared
        .iter()
        .all(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let resp = client()
        .get(p.web.url("/api/user/carol/videos"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the old session must be revoked");
    // A stale cookie on a page sends the visitor to sign in.
    let resp = client()
        .get(p.web.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login");

    // Signing in again works.
    let resp = client()
        .post(p.web.url("/login"))
        .form(&[("user_name", "carol"), ("pwd", "correct horse battery")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(cookie_header(&resp).contains("session="));
}

#[tokio::test]
async fn forms_come_back_with_the_api_message() {
    let p = Platform::start(api_only()).await;
    register(&p.web, "dave").await;
    let post = |path: &'static str, name: &'static str, pwd: &'static str| {
        let url = p.web.url(path);
        async move {
            let resp = client()
                .post(url)
                .form(&[("user_name", name), ("pwd", pwd)])
                .send()
                .await
                .unwrap();
            let status = resp.status();
            assert!(resp.headers().get("set-cookie").is_none());
            (status, resp.text().await.unwrap())
        }
    };
    let (status, page) = post("/login", "dave", "wrong password").await;
    assert_eq!(status, 401);
    assert!(page.contains("class=\"alert\""), "{page}");
    assert!(page.contains("value=\"dave\""), "the name is kept: {page}");
    let (status, page) = post("/register", "dave", "another password").await;
    assert_eq!(status, 409);
    assert!(page.contains("class=\"alert\""), "{page}");
    let (status, page) = post("/register", "bad name!", "long enough pw").await;
    assert!(status == 400 || status == 422, "{status}");
    assert!(page.contains("class=\"alert\""), "{page}");
    let (status, page) = post("/register", "shortpw", "short").await;
    assert!(status == 400 || status == 422, "{status}");
    assert!(page.to_lowercase().contains("password"), "{page}");
    let (status, _) = post("/login", "", "").await;
    assert_eq!(status, 422);
    // User text is escaped.
    let (_, page) = post("/login", "<script>x</script>", "whatever12").await;
    assert!(!page.contains("<script>x"), "{page}");
}

#[tokio::test]
async fn pages_need_a_session_and_errors_are_clear_pages() {
    let p = Platform::start(api_only()).await;
    for path in [
        "/",
        "/watch/00000000-0000-4000-8000-000000000000",
        "/u/someone",
    ] {
        let resp = client().get(p.web.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 303, "{path}");
        assert_eq!(resp.headers()["location"], "/login");
    }
    let resp = client().get(p.web.url("/login")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("name=\"viewport\""));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets: {page}"
    );

    let cookie = register(&p.web, "erin").await;
    let get = |path: &str| {
        client()
            .get(p.web.url(path))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .send()
    };
    for path in [
        "/watch/00000000-0000-4000-8000-000000000000",
        "/watch/00000000-0000-4000-8000-000000000000?u=erin",
        "/watch/not-a-video",
    ] {
        let resp = get(path).await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert!(resp.text().await.unwrap().contains("Not found"), "{path}");
    }
    let resp = get("/u/nobody-here").await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = get("/no/such/page").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let resp = get("/u/erin").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("erin has not uploaded anything yet"));
    // Deleting someone else's (or no) video is refused with the api's answer.
    let resp = client()
        .post(
            p.web
                .url("/my/videos/00000000-0000-4000-8000-000000000000/delete"),
        )
        .header("cookie", &cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Wrong method on a page: 405 with Allow.
    let resp = client().delete(p.web.url("/login")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.headers()["allow"].to_str().unwrap().contains("POST"));
}

#[tokio::test]
async fn static_assets_are_cached_and_nothing_else_is_served() {
    let p = Platform::start(api_only()).await;
    let page = client()
        .get(p.web.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let css = page
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/static/site.css"))
        .and_then(|s| s.split('"').next())
        .expect("the page links a versioned stylesheet");
    let resp = client()
        .get(p.web.url(&format!("/static/site.css{css}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let etag = resp.headers()["etag"].clone();
    let resp = client()
        .get(p.web.url("/static/site.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    let resp = client()
        .get(p.web.url("/static/vendor/tus.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("tus"));
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
            raw_get_status(p.web.port, target, "127.0.0.1").await,
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
        dead_upstreams: false,
    })
    .await;
    let cookie = register(&p.web, "frank").await;
    let resp = client()
        .post(p.web.url("/api/user/frank/videos"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({ "name": "broken" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let vid = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Passes the magic-byte check, but nothing after the `ftyp` box is a video.
    let mut body = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    body.extend(std::iter::repeat_n(0x55u8, 100_000));
    let resp = client()
        .put(p.web.url(&format!("/upload/{vid}")))
        .header("cookie", &cookie)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut page = String::new();
    for _ in 0..150 {
        page = client()
            .get(p.web.url("/"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("state-failed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        page.contains("state-failed"),
        "never shown as failed: {page}"
    );
    let line = page
        .lines()
        .find(|l| l.contains("state-failed"))
        .unwrap()
        .to_string();
    assert!(line.contains("Failed: "), "{line}");
    assert!(
        !line.contains("Failed: the file could not be processed"),
        "the scheduler's own reason should be shown: {line}"
    );
}

#[tokio::test]
async fn long_lists_are_paged_with_an_older_videos_link() {
    let p = Platform::start(api_only()).await;
    let cookie = register(&p.web, "gina").await;
    for i in 0..26 {
        let resp = client()
            .post(p.web.url("/api/user/gina/videos"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({ "name": format!("clip {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let get = |path: String| {
        client()
            .get(p.web.url(&path))
            .header("cookie", &cookie)
            .header("accept", "text/html")
            .send()
    };
    let first = get("/".into()).await.unwrap().text().await.unwrap();
    assert_eq!(first.matches("<li class=\"video\"").count(), 24);
    assert!(first.contains("clip 25") && !first.contains("clip 1<"));
    let older = first
        .split("href=\"")
        .find(|s| s.starts_with("/?before="))
        .and_then(|s| s.split('"').next())
        .expect("an Older videos link")
        .replace("&amp;", "&");
    let second = get(older).await.unwrap().text().await.unwrap();
    assert_eq!(second.matches("<li class=\"video\"").count(), 2);
    assert!(second.contains("clip 0<") && second.contains("clip 1<"));
    assert!(!second.contains("Older videos"));
    let resp = get("/?before=garbage".into()).await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("first page"));
}

/// The `href` of the first link on `page` that starts with `prefix`, unescaped.
fn link_starting(page: &str, prefix: &str) -> Option<String> {
    page.split("href=\"")
        .find(|s| s.starts_with(prefix))
        .and_then(|s| s.split('"').next())
        .map(|s| s.replace("&amp;", "&"))
}

#[tokio::test]
async fn watch_links_name_only_the_video_and_work_for_every_viewer() {
    // No scheduler: an uploaded video stays `uploaded` (playable, not yet processed).
    let p = Platform::start(Options {
        stream: true,
        scheduler: false,
        dead_upstreams: false,
    })
    .await;
    let ann = register(&p.web, "ann").await;
    let bob = register(&p.web, "bob").await;
    let resp = client()
        .post(p.web.url("/api/user/ann/videos"))
        .header("cookie", &ann)
        .header("origin", p.web.url(""))
        .json(&serde_json::json!({ "name": "harbour at dusk" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let vid = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let watch = format!("/watch/{vid}");
    let get = |path: String, cookie: &str| {
        client()
            .get(p.web.url(&path))
            .header("cookie", cookie)
            .header("accept", "text/html")
            .send()
    };

    // The owner's home links the plain watch page, which shows the pending video.
    let home = get("/".into(), &ann).await.unwrap().text().await.unwrap();
    assert_eq!(link_starting(&home, "/watch/").as_deref(), Some(&*watch));
    let resp = get(watch.clone(), &ann).await.unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("harbour at dusk"), "{page}");
    assert!(
        page.contains("Delete video"),
        "the owner may delete: {page}"
    );
    // Anyone else: not found while it cannot be played.
    assert_eq!(get(watch.clone(), &bob).await.unwrap().status(), 404);

    let mut body = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    body.extend(std::iter::repeat_n(0x55u8, 10_000));
    let resp = client()
        .put(p.web.url(&format!("/upload/{vid}")))
        .header("cookie", &ann)
        .header("origin", p.web.url(""))
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());

    // Now the same link works for bob, and an old `?u=` (right, wrong or empty) is ignored.
    for path in [
        watch.clone(),
        format!("{watch}?u=ann"),
        format!("{watch}?u=bob"),
        format!("{watch}?u="),
    ] {
        let resp = get(path.clone(), &bob).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let page = resp.text().await.unwrap();
        assert!(page.contains("harbour at dusk"), "{path}: {page}");
        assert!(page.contains("id=\"author-link\">ann<"), "{path}: {page}");
        assert!(!page.contains("Delete video"), "{path}: {page}");
        assert!(!page.contains("name=\"u\""), "{path}: {page}");
    }
    let channel = get("/u/ann".into(), &bob)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(link_starting(&channel, "/watch/").as_deref(), Some(&*watch));

    // bob comments and deletes his comment from the plain link; each answer leads back to it.
    let back = format!("{watch}#comments");
    let post = |path: String, form: Vec<(&'static str, &'static str)>| {
        client()
            .post(p.web.url(&path))
            .header("cookie", &bob)
            .header("origin", p.web.url(""))
            .header("accept", "text/html")
            .form(&form)
            .send()
    };
    let resp = post(
        format!("{watch}/comments"),
        vec![("content", "lovely light")],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], back.as_str());
    // A blank comment shows the page again with the api's message.
    let resp = post(format!("{watch}/comments"), vec![("content", "   ")])
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("class=\"alert\"") && page.contains("harbour at dusk"),
        "{page}"
    );
    let page = get(watch.clone(), &bob)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("lovely light"), "{page}");
    let cid = page
        .split("data-comment-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the comment's id")
        .to_string();
    let resp = post(format!("{watch}/comments/{cid}/delete"), vec![])
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], back.as_str());
    let page = get(watch.clone(), &bob)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("lovely light"), "{page}");
}
