//! A real tus client (tuspy) uploading through web: creation, a chunk, then a fresh client
//! resuming from the offset the server reports (tus 1.0.0 core `HEAD`), all via web's `/files/`.
//! This proves the tus headers pass both ways and the creation `Location` stays usable.

use serde_json::Value;

use crate::support::{make_mp4, test_tool, Options, Platform};

const SCRIPT: &str = r#"
import json, sys
from tusclient import client
web, path, vid, cookie = sys.argv[1:5]
c = client.TusClient(web + "/files/", headers={"Cookie": cookie})
up = c.uploader(path, chunk_size=1 << 20,
                metadata={"video_id": vid, "filename": "p.mp4", "filetype": "video/mp4"})
up.upload_chunk()
first = {"url": up.url, "offset": up.offset}
# A new client, as after a reload or a crash: it asks the server where to go on.
c2 = client.TusClient(web + "/files/", headers={"Cookie": cookie})
up2 = c2.uploader(path, url=first["url"], chunk_size=1 << 20)
up2.set_url(first["url"])
resumed_at = up2.get_offset()
up2.offset = resumed_at
up2.upload()
print(json.dumps({"first": first, "resumed_at": resumed_at, "final": up2.offset}))
"#;

#[tokio::test]
async fn a_tus_client_creates_and_resumes_an_upload_through_web() {
    let p = Platform::start(Options::with_stream()).await;
    let web = &p.web;
    let tusser = web.register("tusser").await;
    let vid = web.create_video(&tusser, "resumed").await;
    let file = p.dir.path().join("tus.mp4");
    make_mp4(&file, 4, "640x360");
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 1 << 20, "the test file must be over one chunk");

    let out = tokio::process::Command::new(test_tool("venv/bin/python"))
        .args(["-c", SCRIPT])
        .arg(web.url(""))
        .arg(&file)
        .arg(&vid)
        .arg(&tusser.cookie)
        .output()
        .await
        .expect("running tuspy");
    assert!(
        out.status.success(),
        "tuspy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    let url = result["first"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&web.url("/files/")),
        "the upload URL must point at web: {url}"
    );
    assert_eq!(result["first"]["offset"], 1 << 20);
    assert_eq!(result["resumed_at"], 1 << 20);
    assert_eq!(result["final"], size);

    // The finished upload is the video, served through web.
    let head = web.head(&format!("/videos/{vid}")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), size.to_string());
    let video = web
        .get(&format!("/api/user/tusser/videos/{vid}"))
        .by(&tusser)
        .await;
    assert_eq!(video.json()["state"], "uploaded");
}
