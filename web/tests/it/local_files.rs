//! web sending the streamserver's files itself (svc::local_file), as `./deploy.sh` runs it:
//! large ranges come from the file with exactly the streamserver's answer, a file that is not
//! the one the streamserver checked is proxied instead, and the stream slot stays taken while web
//! sends and comes back when the viewer goes.

use reqwest::StatusCode;
use svc::testing::eventually;

use crate::site::{patterned, Site};
use crate::support::{Options, Platform, Run, WebStorage};

/// The value of `series` (`name{labels}`) in web's `/metrics`, or 0.
async fn web_metric(web: &Site, series: &str) -> f64 {
    let text = web.get("/metrics").await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

const SENT: &str = r#"web_local_files_total{outcome="sent"}"#;
const MISMATCHED: &str = r#"web_local_files_total{outcome="mismatched"}"#;

#[tokio::test]
async fn large_ranges_are_sent_from_the_file_exactly_as_the_streamserver_answers_them() {
    let p = Platform::start(Options {
        run: Run::WebBinary,
        ..Options::with_stream()
    })
    .await;
    let (web, stream) = (&p.web, p.stream_direct());
    let owner = web.register("filer").await;
    let public = web.create_video(&owner, "clip").await;
    let body = patterned(3 << 20);
    web.upload(&owner, &public, body.clone()).await;
    let mine = serde_json::json!({ "name": "mine", "visibility": "private" });
    let private = web.create_video_as(&owner, mine).await;
    web.upload(&owner, &private, body.clone()).await;

    let path = format!("/videos/{public}");
    // Three large ranges (web sends them), one small (the streamserver does).
    for range in [
        "bytes=0-",
        "bytes=1048576-2097151",
        "bytes=-100000",
        "bytes=10-20",
    ] {
        let via_web = web.get(&path).header("range", range).await;
        let direct = stream.get(&path).header("range", range).await;
        assert_eq!(direct.status, 206, "{range}");
        via_web.assert_same_bytes_as(&direct, range);
    }
    assert_eq!(web_metric(web, SENT).await, 3.0);

    // The streamserver still decides who may: nobody else gets the private video's bytes, its
    // owner does, from the file.
    let private_path = format!("/videos/{private}");
    let stranger = web.get(&private_path).header("range", "bytes=0-").await;
    assert_eq!(stranger.status, 404);
    let mine = web
        .get(&private_path)
        .by(&owner)
        .header("range", "bytes=0-")
        .await;
    assert_eq!(mine.status, 206);
    assert_eq!(mine.header("cache-control"), "private, no-store");
    assert_eq!(mine.body, body);
    assert_eq!(web_metric(web, SENT).await, 4.0);
    assert_eq!(web_metric(web, MISMATCHED).await, 0.0);
}

#[tokio::test]
async fn a_file_that_is_not_the_one_the_streamserver_checked_is_proxied_instead() {
    let p = Platform::start(Options {
        run: Run::WebBinary,
        web_storage: WebStorage::Elsewhere,
        ..Options::with_stream()
    })
    .await;
    let web = &p.web;
    let owner = web.register("elsewhere").await;
    let vid = web.create_video(&owner, "clip").await;
    let body = patterned(1 << 20);
    web.upload(&owner, &vid, body.clone()).await;
    // web's directory holds a file of that name and size, with other bytes.
    let decoy = p.dir.path().join("elsewhere/videos").join(&vid);
    std::fs::write(&decoy, vec![b'x'; body.len()]).unwrap();

    let got = web
        .get(&format!("/videos/{vid}"))
        .header("range", "bytes=0-")
        .await;
    assert_eq!(got.status, 206);
    assert_eq!(got.body, body);
    assert_eq!(web_metric(web, MISMATCHED).await, 1.0);
    assert_eq!(web_metric(web, SENT).await, 0.0);
    // And with no file there at all.
    std::fs::remove_file(&decoy).unwrap();
    let got = web
        .get(&format!("/videos/{vid}"))
        .header("range", "bytes=4096-")
        .await;
    assert_eq!(got.body, body[4096..]);
    assert_eq!(web_metric(web, MISMATCHED).await, 2.0);
}

#[tokio::test]
async fn the_stream_slot_is_held_while_web_sends_and_freed_when_the_viewer_goes() {
    let p = Platform::start(Options {
        stream_env: &[("MAX_STREAMS_PER_IP", "1")],
        ..Options::with_stream()
    })
    .await;
    let web = &p.web;
    let owner = web.register("slotted").await;
    let vid = web.create_video(&owner, "clip").await;
    // More than loopback's socket buffers hold, so a viewer that does not read stays mid-file.
    web.upload(&owner, &vid, patterned(32 << 20)).await;
    let url = web.url(&format!("/videos/{vid}"));
    let client = reqwest::Client::new();
    let get = |range: &'static str| client.get(&url).header("range", range).send();

    let watching = get("bytes=0-").await.unwrap();
    assert_eq!(watching.status(), StatusCode::PARTIAL_CONTENT);
    // The viewer's one stream is taken while web sends it.
    let second = get("bytes=0-").await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    drop(second);
    // The viewer goes mid-file: web ends the lease, the slot comes back.
    drop(watching);
    let next = eventually(
        "the slot of the viewer who went",
        std::time::Duration::from_secs(10),
        || async {
            let r = get("bytes=0-99999").await.unwrap();
            (r.status() == StatusCode::PARTIAL_CONTENT).then_some(r)
        },
    )
    .await;
    assert_eq!(next.bytes().await.unwrap().len(), 100_000);
}
