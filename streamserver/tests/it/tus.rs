//! tus 1.0.0 under `/files/`, driven by hand so each protocol rule is checked on its own.

use base64::Engine;
use mysql_async::prelude::Queryable;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::helpers::{
    assert_not_a_video, fake_mp4, make_mp4, noise, spawn_app, spawn_app_with, TestApp, SNIFF_LEN,
};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A request to `path` in tus 1.0.0, with the session `sid` if given.
fn tus(app: &TestApp, method: Method, path: &str, sid: Option<&str>) -> reqwest::RequestBuilder {
    let req = app
        .client
        .request(method, app.url(path))
        .header("tus-resumable", "1.0.0");
    match sid {
        Some(sid) => req.header("x-session-id", sid),
        None => req,
    }
}

async fn send(req: reqwest::RequestBuilder) -> reqwest::Response {
    req.send().await.unwrap()
}

async fn create(app: &TestApp, sid: &str, vid: &str, length: usize) -> reqwest::Response {
    let metadata = format!("filename {},video_id {},whatever", b64("a.mp4"), b64(vid));
    let req = tus(app, Method::POST, "/files/", Some(sid))
        .header("upload-length", length.to_string())
        .header("upload-metadata", metadata);
    send(req).await
}

/// The `Location` of a created upload.
fn location_of(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// One upload, as the holder of session `sid` sees it.
#[derive(Clone)]
struct Upload<'a> {
    app: &'a TestApp,
    sid: &'a str,
    location: String,
}

impl<'a> Upload<'a> {
    /// A new upload of `length` bytes for `vid`.
    async fn create(app: &'a TestApp, sid: &'a str, vid: &str, length: usize) -> Self {
        let location = location_of(&create(app, sid, vid, length).await);
        Upload { app, sid, location }
    }

    /// `PATCH` with `body` at `offset`, with `Upload-Checksum` if given.
    async fn patch(
        &self,
        offset: usize,
        body: impl Into<reqwest::Body>,
        checksum: Option<String>,
    ) -> reqwest::Response {
        let mut req = tus(self.app, Method::PATCH, &self.location, Some(self.sid))
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string());
        if let Some(c) = checksum {
            req = req.header("upload-checksum", c);
        }
        send(req.body(body)).await
    }

    async fn head(&self) -> reqwest::Response {
        send(tus(self.app, Method::HEAD, &self.location, Some(self.sid))).await
    }

    /// `Upload-Offset` from `HEAD`.
    async fn offset(&self) -> u64 {
        let resp = self.head().await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn sha256_header(bytes: &[u8]) -> String {
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

#[tokio::test]
async fn options_advertises_the_protocol() {
    let app = spawn_app().await;
    // OPTIONS needs no Tus-Resumable.
    let resp = send(app.client.request(Method::OPTIONS, app.url("/files/"))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let h = resp.headers();
    assert_eq!(h["tus-version"], "1.0.0");
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["tus-max-size"], (1u64 << 30).to_string().as_str());
    assert_eq!(h["tus-checksum-algorithm"], "sha256");
    let ext = h["tus-extension"].to_str().unwrap();
    for e in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    ] {
        assert!(ext.split(',').any(|x| x == e), "{e}");
    }
}

#[tokio::test]
async fn upload_in_chunks_with_checksums_and_publish() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let file = fake_mp4(250_000);

    let resp = create(&app, &sid, &vid, file.len()).await;
    let location = location_of(&resp);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    assert!(resp.headers().get("upload-expires").is_some());
    assert!(location.starts_with("/files/"));
    let up = Upload {
        app: &app,
        sid: &sid,
        location,
    };

    let resp = up.head().await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["upload-offset"], "0");
    assert_eq!(
        resp.headers()["upload-length"],
        file.len().to_string().as_str()
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");

    let first = file[..100_000].to_vec();
    let resp = up
        .patch(0, first, Some(sha256_header(&file[..100_000])))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["upload-offset"], "100000");
    assert!(resp.headers().get("upload-expires").is_some());

    // Wrong offset: 409, nothing written.
    let resp = up.patch(50_000, file[50_000..60_000].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    // Wrong checksum: 460, the chunk discarded.
    let wrong = Some(sha256_header(b"something else"));
    let resp = up
        .patch(100_000, file[100_000..150_000].to_vec(), wrong)
        .await;
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(up.offset().await, 100_000);
    // Wrong content type: 415.
    let req = tus(&app, Method::PATCH, &up.location, Some(&sid)).header("upload-offset", "100000");
    let resp = send(req.body(vec![0u8; 10])).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Someone else: 403.
    let (_, other) = app.user().await;
    let theirs = Upload {
        sid: &other,
        ..up.clone()
    };
    let resp = theirs.patch(100_000, file[100_000..].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = up.patch(100_000, file[100_000..].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        resp.headers()["upload-offset"],
        file.len().to_string().as_str()
    );

    let (state, size, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(file.len() as u64));
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&file)));
    assert_eq!(app.process_jobs(&vid).await, 1);
    // The `filename` of the creation's metadata, and the sniffed type.
    let original = (Some("a.mp4".to_string()), Some("video/mp4".to_string()));
    assert_eq!(app.original_of(&vid).await, original);
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        file
    );
    // Published by rename: the upload's bytes are gone from uploads/.
    assert!(app.files_in("uploads").is_empty());
    assert_eq!(up.offset().await, file.len() as u64);

    // A second upload for the same (now uploaded) video: 409 at creation.
    let resp = create(&app, &sid, &vid, 1000).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn creation_with_upload_and_termination() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let file = fake_mp4(40_000);
    // At `/files`, without the slash, as some clients are configured.
    let req = tus(&app, Method::POST, "/files", Some(&sid))
        .header("upload-length", file.len().to_string())
        .header("upload-metadata", format!("video_id {}", b64(&vid)))
        .header("content-type", "application/offset+octet-stream");
    let resp = send(req.body(file[..10_000].to_vec())).await;
    let location = location_of(&resp);
    assert_eq!(resp.headers()["upload-offset"], "10000");
    assert_eq!(app.files_in("uploads").len(), 1);
    let up = Upload {
        app: &app,
        sid: &sid,
        location,
    };
    assert_eq!(up.offset().await, 10_000);

    let resp = send(tus(&app, Method::DELETE, &up.location, Some(&sid))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(app.files_in("uploads").is_empty());
    let resp = up.head().await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.video_row(&vid).await.0, "pending");
}

#[tokio::test]
async fn bad_requests_are_refused_with_reasons() {
    let app = spawn_app_with(&[("MAX_UPLOAD_SIZE", "1MiB")]).await;
    let (_, sid, vid) = app.user_with_video().await;

    // Wrong or missing protocol version: 412 with Tus-Version, whatever the method.
    for (method, path, version) in [
        (Method::POST, "/files/", Some("0.2.2")),
        (Method::POST, "/files/", None),
        (Method::PUT, "/files/", None),
        (Method::HEAD, "/files/abc", Some("2.0.0")),
    ] {
        let mut req = app.client.request(method.clone(), app.url(path));
        if let Some(version) = version {
            req = req.header("tus-resumable", version);
        }
        let resp = send(
            req.header("x-session-id", &sid)
                .header("upload-length", "100"),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED, "{method}");
        assert_eq!(resp.headers()["tus-version"], "1.0.0");
        assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    }
    // In the right version, a method the resource does not have: 405 with Allow.
    let resp = send(tus(&app, Method::PUT, "/files/", Some(&sid))).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "OPTIONS, POST");
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    // No session.
    let req = tus(&app, Method::POST, "/files/", None)
        .header("upload-length", "100")
        .header("upload-metadata", format!("video_id {}", b64(&vid)));
    assert_eq!(send(req).await.status(), StatusCode::UNAUTHORIZED);
    // Too large for the limit.
    let resp = create(&app, &sid, &vid, 2 << 20).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // No video_id.
    let req = tus(&app, Method::POST, "/files/", Some(&sid))
        .header("upload-length", "100")
        .header("upload-metadata", format!("filename {}", b64("a.mp4")));
    let resp = send(req).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("video_id"));
    // Someone else's video, an unknown video.
    let (_, other) = app.user().await;
    assert_eq!(
        create(&app, &other, &vid, 100).await.status(),
        StatusCode::FORBIDDEN
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        create(&app, &sid, &unknown, 100).await.status(),
        StatusCode::NOT_FOUND
    );
    // Another spelling of the video's id names no video (as in the api).
    assert_eq!(
        create(&app, &sid, &vid.replace('-', ""), 100)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Unknown upload.
    let unknown = Upload {
        app: &app,
        sid: &sid,
        location: format!("/files/{}", uuid::Uuid::new_v4()),
    };
    let resp = unknown.head().await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    let resp = unknown.patch(0, "x", None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Expired: 410.
    let expired = Upload::create(&app, &sid, &vid, 100).await;
    let mut conn = app.db.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE uploads SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE",
        (),
    )
    .await
    .unwrap();
    let resp = expired.patch(0, "x", None).await;
    assert_eq!(resp.status(), StatusCode::GONE);

    // Completed with bytes that are not a video: 415 and nothing kept.
    let up = Upload::create(&app, &sid, &vid, 5000).await;
    assert_not_a_video(up.patch(0, noise(5000), None).await).await;
    assert_eq!(app.video_row(&vid).await.0, "pending");
    assert!(app.files_in("videos").is_empty());
    assert_eq!(
        app.files_in("uploads").len(),
        1,
        "only the expired upload's file is left (the scheduler sweeps it)"
    );
    // A chunk past Upload-Length: 413, from its Content-Length before a byte is read.
    let up = Upload::create(&app, &sid, &vid, 100).await;
    let resp = up.patch(0, fake_mp4(200), None).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(up.offset().await, 0);
    // And without a Content-Length (chunked), when the bytes pass it: what fitted is kept.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        fake_mp4(200).chunks(64).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = up.patch(0, body, None).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        error["error"],
        "more bytes than the Upload-Length of 100 bytes"
    );
    let offset = up.offset().await;
    assert!(offset < 100, "{offset}");
    assert_eq!(app.video_row(&vid).await.0, "pending");
}

/// Asserts that the upload is gone without a trace: HEAD 404, no bytes under `uploads/`, no row,
/// and its video still `pending` with nothing published or queued.
async fn assert_removed(up: &Upload<'_>, vid: &str) {
    assert_eq!(up.head().await.status(), StatusCode::NOT_FOUND);
    assert!(up.app.files_in("uploads").is_empty());
    assert_eq!(up.app.upload_rows(vid).await, 0);
    assert_eq!(up.app.video_row(vid).await.0, "pending");
    assert!(!up.app.path(&format!("videos/{vid}")).exists());
    assert_eq!(up.app.process_jobs(vid).await, 0);
}

#[tokio::test]
async fn a_non_video_is_refused_at_its_first_patch_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let chunk = 100_000;
    let file = noise(4 * chunk);
    let up = Upload::create(&app, &sid, &vid, file.len()).await;

    assert_not_a_video(up.patch(0, file[..chunk].to_vec(), None).await).await;
    assert_removed(&up, &vid).await;
    // A client that carries on (or retries the chunk) finds no upload.
    let resp = up.patch(chunk, file[chunk..2 * chunk].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = up.patch(0, file[..chunk].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(app.files_in("uploads").is_empty());

    // The video waits for another file, and a real video then goes through.
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_mp4(dir.path(), 1, false)).unwrap();
    let up = Upload::create(&app, &sid, &vid, clip.len()).await;
    let half = clip.len() / 2;
    let resp = up.patch(0, clip[..half].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = up.patch(half, clip[half..].to_vec(), None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (state, size, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(clip.len() as u64));
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&clip)));
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        clip
    );
}

#[tokio::test]
async fn the_type_is_judged_at_the_patch_that_completes_the_first_bytes() {
    let app = spawn_app().await;
    let (user, sid, vid) = app.user_with_video().await;

    // Not a video, sent in PATCHes shorter than the sniffed head (the first SNIFF_LEN bytes,
    // which MPEG-TS needs three packets of): they are kept until the one that completes the
    // head, which is refused (with a checksum, which changes nothing).
    let file = noise(10_000);
    let up = Upload::create(&app, &sid, &vid, file.len()).await;
    for (from, to) in [(0, 10), (10, 600)] {
        let resp = up.patch(from, file[from..to].to_vec(), None).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{from}..{to}");
        assert_eq!(up.offset().await, to as u64);
    }
    assert_eq!(app.files_in("uploads").len(), 1);
    let rest = file[600..5000].to_vec();
    let checksum = Some(sha256_header(&rest));
    assert_not_a_video(up.patch(600, rest, checksum).await).await;
    assert_removed(&up, &vid).await;

    // A video whose magic arrives split the same way is judged by all of it, the bytes read
    // back from disk included, and goes through.
    let vid = app.pending_video(user).await;
    let file = fake_mp4(10_000);
    let up = Upload::create(&app, &sid, &vid, file.len()).await;
    for (from, to) in [(0, 6), (6, 700), (700, file.len())] {
        let resp = up.patch(from, file[from..to].to_vec(), None).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{from}..{to}");
    }
    assert_eq!(app.video_row(&vid).await.0, "uploaded");
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        file
    );

    // An upload shorter than the head is judged when it completes.
    let vid = app.pending_video(user).await;
    let up = Upload::create(&app, &sid, &vid, SNIFF_LEN - 24).await;
    let resp = up.patch(0, noise(8), None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_not_a_video(up.patch(8, noise(SNIFF_LEN - 32), None).await).await;
    assert_removed(&up, &vid).await;
}

#[tokio::test]
async fn creation_with_upload_of_a_non_video_is_refused_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let file = noise(50_000);
    let creation = |body: Vec<u8>| {
        tus(&app, Method::POST, "/files/", Some(&sid))
            .header("upload-length", file.len().to_string())
            .header("upload-metadata", format!("video_id {}", b64(&vid)))
            .header("content-type", "application/offset+octet-stream")
            .body(body)
    };

    let resp = send(creation(file[..10_000].to_vec())).await;
    assert!(resp.headers().get("location").is_none());
    assert_not_a_video(resp).await;
    assert!(app.files_in("uploads").is_empty());
    assert_eq!(app.upload_rows(&vid).await, 0);
    assert_eq!(app.video_row(&vid).await.0, "pending");

    // Fewer bytes than the head: created; the PATCH that completes the head is refused.
    let resp = send(creation(file[..16].to_vec())).await;
    let up = Upload {
        app: &app,
        sid: &sid,
        location: location_of(&resp),
    };
    assert_eq!(resp.headers()["upload-offset"], "16");
    assert_not_a_video(up.patch(16, file[16..20_000].to_vec(), None).await).await;
    assert_removed(&up, &vid).await;
}

/// A client that sends a whole chunk before it reads the answer (as tus clients and browsers
/// do) gets to send all of a refused chunk and then reads the 415, rather than a broken pipe.
#[tokio::test]
async fn a_refused_chunk_is_read_to_its_end_so_the_client_reads_the_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    // More than the sockets buffer between the two ends, so the server must read it.
    let chunk = noise(6 << 20);
    let up = Upload::create(&app, &sid, &vid, 2 * chunk.len()).await;
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "PATCH {} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nX-Session-Id: {sid}\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        up.location,
        chunk.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&chunk)
        .await
        .expect("the whole chunk is taken in");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(crate::helpers::PATIENCE, sock.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "the server closes after answering: {answer}");
    assert!(answer.starts_with("HTTP/1.1 415 "), "{answer}");
    assert!(
        answer.contains("Choose a video file and try again."),
        "{answer}"
    );
    assert_removed(&up, &vid).await;
}
