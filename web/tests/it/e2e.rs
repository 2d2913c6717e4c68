//! End to end in a real browser: the four real binaries, a fresh database, a temporary storage
//! directory and Debian's headless chromium driven by playwright-core (`web/tests/e2e/browser.cjs`).
//! Screenshots land in `<target>/e2e-screenshots/`; the test prints the path.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::{make_mp4, test_tool, Options, Platform, Run};

fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/debug/deps/it-xxxx -> target/e2e-screenshots
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf();
    let dir = target.join("e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("creating the screenshot directory");
    dir
}

/// The first byte of every `range request` line in web's log (`range="bytes=N-..."`).
fn range_starts(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("range request"))
        .filter_map(|l| l.split("bytes=").nth(1))
        .filter_map(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_uploads_watches_seeks_comments_and_deletes() {
    let p = Platform::start(Options {
        stream: true,
        scheduler: true,
        run: Run::AllBinaries,
    })
    .await;
    let (web, scheduler) = (
        p.web_service.process(),
        p.scheduler.as_ref().expect("a scheduler").process(),
    );
    let video = p.dir.path().join("pattern.mp4");
    make_mp4(&video, 8, "640x360");
    let size = std::fs::metadata(&video).unwrap().len();
    assert!(
        size > 2 << 20,
        "the test video is {size} bytes; it must be several MiB"
    );
    let shots = screenshot_dir();
    println!("screenshots: {}", shots.display());

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/browser.cjs");
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(script)
            .env("BASE_URL", p.web.url(""))
            .env("VIDEO_FILE", &video)
            .env("SHOTS", &shots)
            .env("PLAYWRIGHT_CORE", test_tool("node_modules/playwright-core"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser run took over 4 minutes")
    .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser run failed: {stderr}\n--- web log ---\n{}\n--- scheduler log ---\n{}",
        tail(&web.log_text()),
        tail(&scheduler.log_text())
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim().lines().last().unwrap())
        .expect("the script's JSON result");
    println!("{result:#}");
    let vid = result["video_id"].as_str().expect("a video id").to_string();
    assert_eq!(result["progress"].as_array().unwrap().last().unwrap(), 100);
    assert!(result["progress_before_reload"].as_f64().unwrap() >= 40.0);
    assert_eq!(
        result["cards"], 1,
        "the reload must resume, not start a second video"
    );
    assert!(result["duration_text"].as_str().unwrap().starts_with("0:0"));
    let duration = result["duration_s"].as_f64().unwrap();
    assert!((duration - 8.0).abs() < 0.5, "duration {duration}");
    assert!(result["after_seek"].as_f64().unwrap() > duration / 2.0);

    // The seek was served by a Range request past the first megabyte.
    let log = web.log_text();
    let starts = range_starts(&log);
    assert!(
        starts.iter().any(|&s| s > 1 << 20),
        "no Range request started past 1 MiB: {starts:?}\n{}",
        tail(&log)
    );

    // The deletion reaches storage at the scheduler's next run.
    let file = p.storage().join("videos").join(&vid);
    let thumb = p.storage().join("thumbnails").join(format!("{vid}.jpg"));
    svc::testing::eventually(
        "the video and its thumbnail to leave storage",
        Duration::from_secs(30),
        || {
            let gone = !file.exists() && !thumb.exists();
            async move { gone.then_some(()) }
        },
    )
    .await;
    for name in ["home", "watch", "upload", "login", "home-phone"] {
        assert!(
            shots.join(format!("{name}.png")).is_file(),
            "screenshot {name}.png missing"
        );
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
