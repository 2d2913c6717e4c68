//! Accept what people have (issue 12, item 1): real files of every accepted kind, made by ffmpeg
//! at test time, are taken in with their type; the uploader's file name is kept from a form
//! or tus metadata; files that only share a kind's first bytes are still refused.

use std::path::{Path, PathBuf};

use base64::Engine;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::helpers::{assert_not_a_video, ffmpeg, make_clip, spawn_app, TestApp};

/// Every kind the server accepts: a file name, ffmpeg's output options for it, and the type
/// the server must record.
const KINDS: &[(&str, &[&str], &str)] = &[
    ("clip.mp4", &["-c:v", "libx264", "-c:a", "aac"], "video/mp4"),
    (
        "clip.mov",
        &["-c:v", "libx264", "-c:a", "pcm_s16le"],
        "video/quicktime",
    ),
    (
        "clip.webm",
        &["-c:v", "libvpx", "-c:a", "libopus"],
        "video/webm",
    ),
    (
        "clip.mkv",
        &["-c:v", "libx264", "-c:a", "flac"],
        "video/x-matroska",
    ),
    // MPEG-4 Part 2 with MP3, the AVI people find on old cameras and disks.
    (
        "clip.avi",
        &["-c:v", "mpeg4", "-c:a", "libmp3lame"],
        "video/x-msvideo",
    ),
    ("clip.ts", &["-c:v", "libx264", "-c:a", "aac"], "video/mp2t"),
    (
        "clip.m2ts",
        &[
            "-c:v",
            "libx264",
            "-c:a",
            "aac",
            "-f",
            "mpegts",
            "-mpegts_m2ts_mode",
            "1",
        ],
        "video/mp2t",
    ),
    (
        "clip.flv",
        &["-c:v", "flv1", "-c:a", "libmp3lame"],
        "video/x-flv",
    ),
    (
        "clip.3gp",
        &["-c:v", "libx264", "-c:a", "aac", "-ar", "8000", "-ac", "1"],
        "video/3gpp",
    ),
    (
        "clip.3g2",
        &["-c:v", "libx264", "-c:a", "aac", "-ar", "8000", "-ac", "1"],
        "video/3gpp2",
    ),
    (
        "clip.ogv",
        &["-c:v", "libtheora", "-c:a", "libvorbis"],
        "video/ogg",
    ),
    (
        "clip.wmv",
        &["-c:v", "wmv2", "-c:a", "wmav2"],
        "video/x-ms-asf",
    ),
    (
        "clip.vob",
        &["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"],
        "video/mpeg",
    ),
];

/// Makes every clip of [`KINDS`] in `dir`, two ffmpeg runs at a time.
async fn make_every_kind(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let runs: Vec<_> = KINDS
                .chunks(KINDS.len().div_ceil(2))
                .map(|half| {
                    let dir = &dir;
                    scope.spawn(move || {
                        half.iter()
                            .map(|(name, codecs, ctype)| (make_clip(dir, name, codecs), *ctype))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            runs.into_iter()
                .flat_map(|run| run.join().expect("an ffmpeg run"))
                .collect()
        })
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_real_file_of_every_accepted_kind_is_taken_in_with_its_type() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    for (path, content_type) in make_every_kind(dir.path()).await {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let clip = std::fs::read(&path).unwrap();
        let (_, sid, vid) = app.user_with_video().await;
        let resp = app.put(&vid, Some(&sid), clip.clone()).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "{name}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["content_type"], content_type, "{name}");
        assert_eq!(body["state"], "uploaded", "{name}");
        assert_eq!(
            app.type_and_state(&vid).await,
            (Some(content_type.to_string()), "uploaded".to_string()),
            "{name}"
        );
        // A bare PUT carries no file name; the type is the sniffed one.
        assert_eq!(
            app.original_of(&vid).await,
            (None, Some(content_type.to_string())),
            "{name}"
        );
        let (_, size, sha) = app.video_row(&vid).await;
        assert_eq!(size, Some(clip.len() as u64), "{name}");
        assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(&clip)), "{name}");
        let stored = std::fs::read(app.path(&format!("videos/{vid}"))).unwrap();
        assert!(stored == clip, "{name}: the stored file is the upload");
        assert_eq!(app.process_jobs(&vid).await, 1, "{name}");
    }
}

/// `POST /files/` with the whole file (creation-with-upload), which completes and publishes it.
async fn tus_upload(app: &TestApp, sid: &str, metadata: &str, file: Vec<u8>) {
    let resp = app
        .client
        .post(app.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("x-session-id", sid)
        .header("upload-length", file.len().to_string())
        .header("upload-metadata", metadata)
        .header("content-type", "application/offset+octet-stream")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn the_uploaders_file_name_is_kept_from_a_form_or_tus_metadata() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let avi = make_clip(
        dir.path(),
        "a.avi",
        &["-c:v", "mpeg4", "-c:a", "libmp3lame"],
    );
    let ts = make_clip(dir.path(), "t.ts", &["-c:v", "libx264", "-c:a", "aac"]);
    let flv = make_clip(dir.path(), "f.flv", &["-c:v", "flv1", "-c:a", "libmp3lame"]);

    // A form, as an old browser sends it: the whole client path, which is not kept.
    let (_, sid, vid) = app.user_with_video().await;
    let boundary = "b0undary";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"C:\\fakepath\\Été à Paris.avi\"\r\nContent-Type: video/avi\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&std::fs::read(&avi).unwrap());
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let resp = app
        .client
        .post(app.url(&format!("/upload/{vid}")))
        .header("x-session-id", &sid)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let expected = (
        Some("Été à Paris.avi".to_string()),
        Some("video/x-msvideo".to_string()),
    );
    assert_eq!(app.original_of(&vid).await, expected);

    // tus metadata, as tus-js-client sends it from the site's page.
    let (_, sid, vid) = app.user_with_video().await;
    let metadata = format!(
        "video_id {},filename {},filetype {}",
        b64(&vid),
        b64("concert\u{7}.ts"),
        b64("video/mp2t")
    );
    tus_upload(&app, &sid, &metadata, std::fs::read(&ts).unwrap()).await;
    let expected = (
        Some("concert.ts".to_string()),
        Some("video/mp2t".to_string()),
    );
    assert_eq!(app.original_of(&vid).await, expected);
    assert_eq!(app.video_row(&vid).await.0, "uploaded");

    // Without a name (none sent, or one of nothing but spaces): NULL.
    let (_, sid, vid) = app.user_with_video().await;
    let metadata = format!("video_id {},filename {}", b64(&vid), b64("   "));
    tus_upload(&app, &sid, &metadata, std::fs::read(&flv).unwrap()).await;
    let expected = (None, Some("video/x-flv".to_string()));
    assert_eq!(app.original_of(&vid).await, expected);
}

#[tokio::test]
async fn files_that_only_share_a_kinds_first_bytes_are_refused() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    // RIFF like AVI, but WAVE; MP3 and Ogg-less FLAC audio; a GIF starts with `G`, the
    // transport-stream sync byte; a PNG.
    let wav = dir.path().join("tone.wav");
    let mp3 = dir.path().join("tone.mp3");
    let flac = dir.path().join("tone.flac");
    for out in [&wav, &mp3, &flac] {
        let out = out.to_str().unwrap();
        ffmpeg(&["-f", "lavfi", "-i", "sine=duration=1", out]);
    }
    let gif = dir.path().join("pattern.gif");
    let png = dir.path().join("pattern.png");
    for out in [&gif, &png] {
        let out = out.to_str().unwrap();
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:duration=1",
            "-frames:v",
            "1",
            out,
        ]);
    }
    for file in [wav, mp3, flac, gif, png] {
        let (_, sid, vid) = app.user_with_video().await;
        let resp = app
            .put(&vid, Some(&sid), std::fs::read(&file).unwrap())
            .await;
        assert_not_a_video(resp).await;
        assert_eq!(app.video_row(&vid).await.0, "pending", "{file:?}");
    }
    assert!(app.files_in("videos").is_empty());
}
