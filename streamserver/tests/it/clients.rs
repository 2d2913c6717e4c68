//! Real clients against the real server: ffprobe seeking over HTTP, curl resuming a download,
//! and tuspy (an unmodified third-party tus client) resuming an upload across a SIGKILL of the
//! real streamserver binary, and told at its first chunk that a file is not a video.

use std::process::{Command, Output};

use sha2::{Digest, Sha256};
use svc::testing::eventually;

use crate::helpers::{make_mp4, noise, spawn_app, test_tools, NOT_A_VIDEO, PATIENCE};

/// Asserts that a client exited 0, showing what it said otherwise.
fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn ffprobe_reads_the_duration_of_an_mp4_whose_index_is_at_the_end() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_mp4(dir.path(), 4, false)).unwrap();
    // The premise: moov after mdat, so the reader must seek to the end.
    assert!(position(&clip, b"moov").unwrap() > position(&clip, b"mdat").unwrap());
    let vid = app.uploaded_video(&clip).await;
    let url = app.url(&format!("/videos/{vid}"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "default=noprint_wrappers=1:nokey=1",
            ])
            .arg(&url)
            .output()
            .expect("running ffprobe")
    })
    .await
    .unwrap();
    assert_succeeded(&out);
    let duration: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!((duration - 4.0).abs() < 0.2, "duration {duration}");
}

#[tokio::test]
async fn curl_resumes_a_partial_download() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_mp4(dir.path(), 3, true)).unwrap();
    let vid = app.uploaded_video(&clip).await;
    let out = dir.path().join("partial.mp4");
    std::fs::write(&out, &clip[..clip.len() / 3]).unwrap();
    let url = app.url(&format!("/videos/{vid}"));
    let out2 = out.clone();
    let status = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-s", "-f", "-C", "-", "-o"])
            .arg(&out2)
            .arg(&url)
            .status()
            .expect("running curl")
    })
    .await
    .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&out).unwrap(), clip);
}

const TUS_SCRIPT: &str = r#"
import sys
from tusclient import client

base, sid, path, vid, mode = sys.argv[1:6]
c = client.TusClient(base + "/files/", headers={"X-Session-Id": sid})
if mode == "start":
    up = c.uploader(path, chunk_size=16 * 1024,
                    metadata={"video_id": vid, "filename": "clip.mp4", "filetype": "video/mp4"})
    up.upload(stop_at=int(sys.argv[6]))
    print(up.url)
else:
    up = c.uploader(path, url=mode, chunk_size=16 * 1024)
    print("resuming at", up.offset, file=sys.stderr)
    if up.offset <= 0:
        sys.exit("the server forgot the offset")
    up.upload()
    print(up.offset)
"#;

/// Runs the tuspy `script` with `args`.
fn python(script: &str, args: &[&str]) -> std::process::Output {
    let py = test_tools().join("venv/bin/python");
    assert!(py.exists(), "no {}: run scripts/test-deps", py.display());
    Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("running python")
}

#[tokio::test]
async fn tuspy_resumes_an_upload_after_the_server_is_killed() {
    // The in-process app only provides the database, storage and helpers; the server under
    // test is the real binary.
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let dir = tempfile::tempdir().unwrap();
    let clip_path = make_mp4(dir.path(), 30, false);
    let clip = std::fs::read(&clip_path).unwrap();
    assert!(clip.len() > 8 * 16 * 1024, "clip too small: {}", clip.len());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let path = clip_path.to_str().unwrap().to_string();

    let mut server = app.start_binary(port).await;
    let half = (clip.len() / 2).to_string();
    let (b, s, p, v, h) = (base.clone(), sid.clone(), path.clone(), vid.clone(), half);
    let out =
        tokio::task::spawn_blocking(move || python(TUS_SCRIPT, &[&b, &s, &p, &v, "start", &h]))
            .await
            .unwrap();
    assert_succeeded(&out);
    let upload_url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(upload_url.contains("/files/"), "{upload_url}");

    // Then a PATCH that breaks off mid-body: its first bytes reach the file, and the server is
    // killed (SIGKILL: no chance to clean up or record anything) while it waits for the rest.
    let upload_path = format!("/files/{}", upload_url.rsplit('/').next().unwrap());
    let offset: usize = app
        .client
        .head(format!("{base}{upload_path}"))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap()
        .headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sent = 40_000.min(clip.len() - offset - 1);
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "PATCH {upload_path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nX-Session-Id: {sid}\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\nContent-Length: {}\r\n\r\n",
        clip.len() - offset
    );
    use tokio::io::AsyncWriteExt;
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&clip[offset..offset + sent]).await.unwrap();
    let file = app.path(&format!(
        "uploads/{}",
        upload_url.rsplit('/').next().unwrap()
    ));
    eventually("the PATCH's first bytes on disk", PATIENCE, || async {
        let len = std::fs::metadata(&file).unwrap().len() as usize;
        (len == offset + sent).then_some(())
    })
    .await;
    assert_eq!(
        std::fs::metadata(&file).unwrap().len() as usize,
        offset + sent
    );
    server.kill().await.unwrap();
    assert_eq!(app.video_row(&vid).await.0, "pending");
    let _server = app.start_binary(port).await;

    let (b, s, p, v, u) = (base, sid, path, vid.clone(), upload_url);
    let out = tokio::task::spawn_blocking(move || python(TUS_SCRIPT, &[&b, &s, &p, &v, &u]))
        .await
        .unwrap();
    assert_succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let resumed_at: u64 = stderr
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        resumed_at >= clip.len() as u64 / 2,
        "resumed at {resumed_at}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        clip.len().to_string()
    );

    let (state, size, sha) = app.video_row(&vid).await;
    assert_eq!(state, "uploaded");
    assert_eq!(size, Some(clip.len() as u64));
    assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&clip)));
    assert_eq!(
        std::fs::read(app.path(&format!("videos/{vid}"))).unwrap(),
        clip
    );
}

/// Uploads a file with tuspy in chunks of the given size, expecting a refusal: prints the
/// refused request's status, tuspy's offset at that point and the answer's body, one a line.
const TUS_REFUSED_SCRIPT: &str = r#"
import sys
from tusclient import client
from tusclient.exceptions import TusCommunicationError

base, sid, path, vid, chunk = sys.argv[1:6]
c = client.TusClient(base + "/files/", headers={"X-Session-Id": sid})
up = c.uploader(path, chunk_size=int(chunk),
                metadata={"video_id": vid, "filename": "notes.pdf", "filetype": "application/pdf"})
try:
    up.upload()
except TusCommunicationError as e:
    print(e.status_code)
    print(up.offset)
    print(e.response_content.decode())
    sys.exit(0)
sys.exit("the upload was not refused")
"#;

#[tokio::test]
async fn tuspy_is_told_at_its_first_chunk_that_a_file_is_not_a_video() {
    let app = spawn_app().await;
    let (_, sid, vid) = app.user_with_video().await;
    let dir = tempfile::tempdir().unwrap();
    // Three chunks of the size the site's page sends, each more than the sockets buffer, so the
    // refused chunk is still being sent when the server has judged its first bytes.
    let chunk = 2 << 20;
    let path = dir.path().join("notes.pdf");
    std::fs::write(&path, noise(3 * chunk)).unwrap();

    let base = app.url("");
    let (path, chunk) = (path.to_str().unwrap().to_string(), chunk.to_string());
    let (s, v) = (sid.clone(), vid.clone());
    let out = tokio::task::spawn_blocking(move || {
        python(TUS_REFUSED_SCRIPT, &[&base, &s, &path, &v, &chunk])
    })
    .await
    .unwrap();
    assert_succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let [status, offset, body] = lines[..] else {
        panic!("{stdout}");
    };
    assert_eq!(status, "415", "{stdout}");
    assert_eq!(offset, "0", "refused at the first chunk: {stdout}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"], NOT_A_VIDEO);
    assert!(app.files_in("uploads").is_empty());
    assert_eq!(app.upload_rows(&vid).await, 0);
    assert_eq!(app.video_row(&vid).await.0, "pending");
}
