//! The scheduler as `main` runs it (HTTP, runner and cron together) on a free port:
//! the delete-record endpoints, `/metrics`, `/readyz` and housekeeping on its schedule.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use scheduler::{Application, Config};
use serde_json::Value;
use svc::storage::keys;
use svc::{VideoId, VideoState};
use tokio_util::sync::CancellationToken;

use crate::helpers::TestEnv;

struct Running {
    base: String,
    client: reqwest::Client,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

async fn start(env: &TestEnv, extra: &[(&str, &str)]) -> Running {
    let storage = env.root().to_str().unwrap().to_string();
    let mut vars = vec![
        ("DATABASE_URL", env.db.url.as_str()),
        ("SCHEDULER_ADDR", "127.0.0.1:0"),
        ("STORAGE_DIR", storage.as_str()),
        ("SCHEDULER_CRON", "* * * * * *"),
        ("DRAIN_TIMEOUT", "5s"),
    ];
    vars.extend_from_slice(extra);
    let config = Config::from_env(&svc::Env::from_pairs(&vars)).unwrap();
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run(shutdown.clone()));
    Running {
        base,
        client: reqwest::Client::new(),
        shutdown,
        task,
    }
}

impl Running {
    async fn send(&self, method: Method, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.client.request(method, url).send().await.unwrap()
    }

    /// `method /video-delete-record/{vid}`: the status and the JSON body.
    async fn record(&self, method: Method, vid: &str) -> (StatusCode, Value) {
        let resp = self
            .send(method, &format!("/video-delete-record/{vid}"))
            .await;
        (resp.status(), resp.json().await.unwrap())
    }

    /// Asks for `vid`'s record and asserts the error answer `(status, code)` whose message
    /// contains `says`.
    async fn refused(&self, method: Method, vid: &str, (status, code): (u16, &str), says: &str) {
        let (got, body) = self.record(method, vid).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body["error_code"], code, "{body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the scheduler stops within its drain time")
            .unwrap();
    }
}

#[tokio::test]
async fn delete_records_are_queued_idempotently_run_and_readable() {
    let env = TestEnv::new().await;
    let app = start(&env, &[]).await;
    let vid = VideoId::random();
    env.write(&keys::video(&vid), b"bytes");

    app.refused(Method::GET, vid.as_str(), (404, "404"), "no deletion")
        .await;

    let (status, body) = app.record(Method::POST, vid.as_str()).await;
    assert_eq!(status, 202);
    assert_eq!(body["video_id"], vid.as_str());
    assert!(["queued", "running", "done"].contains(&body["state"].as_str().unwrap()));
    assert_eq!(body["attempts"], 0);
    assert!(body["last_error"].is_null());
    let (status, _) = app.record(Method::POST, vid.as_str()).await;
    assert_eq!(status, 202);
    assert_eq!(env.count("SELECT COUNT(*) FROM jobs").await, 1);

    // The running scheduler picks it up (the POST wakes the dispatcher).
    svc::testing::eventually(
        "the deletion to be done",
        Duration::from_secs(10),
        || async {
            let (_, body) = app.record(Method::GET, vid.as_str()).await;
            (body["state"] == "done").then_some(())
        },
    )
    .await;
    assert!(!env.path(&keys::video(&vid)).exists());

    // Upper-case spelling of the same id finds the same record.
    let (status, body) = app.record(Method::GET, &vid.as_str().to_uppercase()).await;
    assert_eq!(status, 200);
    assert_eq!(body["video_id"], vid.as_str());

    // Malformed ids, the UUID spellings other than the hyphenated one included, are 400 with
    // the code of svc's table.
    let simple = vid.as_str().replace('-', "");
    for bad in ["not-a-uuid", simple.as_str()] {
        for method in [Method::GET, Method::POST] {
            app.refused(method, bad, (400, "001"), "expected a UUID")
                .await;
        }
    }

    // A video that still exists is not deleted behind the api's back.
    let user = env.user().await;
    let live = env.video(user, VideoState::Ready).await;
    app.refused(Method::POST, live.as_str(), (409, "409"), "still exists")
        .await;
    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs").await,
        1,
        "nothing queued for it"
    );

    let path = format!("/video-delete-record/{vid}");
    let wrong = app.send(Method::DELETE, &path).await;
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET, HEAD, POST");
    assert_eq!(app.send(Method::GET, "/nope").await.status(), 404);

    let metrics = app
        .send(Method::GET, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    for expected in [
        "scheduler_jobs_done_total{kind=\"delete_video\"}",
        "scheduler_jobs{",
        "scheduler_oldest_due_job_age_seconds",
        // Requests are labelled with the route's pattern, never with an id.
        "route=\"/video-delete-record/{vid}\"",
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
    assert!(!metrics.contains(vid.as_str()), "{metrics}");

    assert_eq!(app.send(Method::GET, "/readyz").await.status(), 200);
    app.stop().await;
}

/// Housekeeping as `main` schedules it, with `PENDING_VIDEO_TTL` from the environment: an
/// abandoned pending video goes on the next tick, its deletion runs, and the removal is counted.
#[tokio::test]
async fn housekeeping_removes_abandoned_pending_videos_on_its_schedule() {
    let env = TestEnv::new().await;
    let user = env.user().await;
    let old = env.video(user, VideoState::Pending).await;
    env.age_video(&old, Duration::from_secs(2 * 3600)).await;
    let young = env.video(user, VideoState::Pending).await;
    env.age_video(&young, Duration::from_secs(30 * 60)).await;
    let app = start(
        &env,
        &[
            ("HOUSEKEEPING_CRON", "* * * * * *"),
            ("PENDING_VIDEO_TTL", "1h"),
        ],
    )
    .await;

    let done = format!(
        "SELECT COUNT(*) FROM jobs WHERE video_id = '{old}' AND kind = 'delete_video' AND state = 'done'"
    );
    env.wait_for_count(&done, 1, Duration::from_secs(20)).await;
    assert_eq!(env.traces_of(&old).await.rows, 0);
    // The run that removed the old one looked at the young one too and kept it.
    assert_eq!(env.traces_of(&young).await.rows, 1);
    assert_eq!(env.traces_of(&young).await.deletions, 0);
    let metrics = app
        .send(Method::GET, "/metrics")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scheduler_pending_videos_removed_total"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_naming_ffmpeg_when_it_is_missing() {
    let env = TestEnv::new().await;
    let app = start(&env, &[("FFMPEG", "/nonexistent/ffmpeg")]).await;
    let resp = app.send(Method::GET, "/readyz").await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("/nonexistent/ffmpeg not found"), "{detail}");
    assert!(detail.contains("FFMPEG"), "{detail}");
    app.stop().await;
}

#[tokio::test]
async fn bad_cron_expressions_are_refused_at_start_up_naming_the_variable() {
    let env = TestEnv::new().await;
    let storage = env.root().to_str().unwrap().to_string();
    let config = Config::from_env(&svc::Env::from_pairs(&[
        ("DATABASE_URL", env.db.url.as_str()),
        ("SCHEDULER_ADDR", "127.0.0.1:0"),
        ("STORAGE_DIR", storage.as_str()),
        ("RECONCILE_CRON", "every day please"),
    ]))
    .unwrap();
    let err = Application::build(config).await.err().unwrap().to_string();
    assert!(err.contains("RECONCILE_CRON"), "{err}");
}

#[test]
fn the_configuration_never_prints_the_database_password() {
    let config = Config::from_env(&svc::Env::from_pairs(&[(
        "DATABASE_URL",
        "mysql://sched:s3cret@db:3306/video",
    )]))
    .unwrap();
    assert_eq!(
        config.database_url.expose(),
        "mysql://sched:s3cret@db:3306/video"
    );
    let shown = format!("{config:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
}
