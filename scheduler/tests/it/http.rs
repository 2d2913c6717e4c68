//! The scheduler as `main` runs it (HTTP, runner and cron together) on a free port:
//! the delete-record endpoints, `/metrics` and `/readyz`.

use std::time::Duration;

use scheduler::{Application, Config};
use serde_json::Value;
use svc::storage::keys;
use tokio_util::sync::CancellationToken;

use crate::helpers::TestEnv;

struct Running {
    base: String,
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
        shutdown,
        task,
    }
}

impl Running {
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
    let client = reqwest::Client::new();
    let vid = uuid::Uuid::new_v4().to_string();
    env.write(&keys::video(&vid), b"bytes");
    let url = format!("{}/video-delete-record/{vid}", app.base);

    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 404);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error_code"], "404");
    assert!(body["error"].as_str().unwrap().contains("no deletion"));

    let first = client.post(&url).send().await.unwrap();
    assert_eq!(first.status(), 202);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["video_id"], vid.as_str());
    assert!(["queued", "running", "done"].contains(&body["state"].as_str().unwrap()));
    assert_eq!(body["attempts"], 0);
    assert!(body["last_error"].is_null());
    let again = client.post(&url).send().await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(env.count("SELECT COUNT(*) FROM jobs").await, 1);

    // The running scheduler picks it up (the POST wakes the dispatcher).
    let mut state = String::new();
    for _ in 0..100 {
        let body: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        state = body["state"].as_str().unwrap().to_string();
        if state == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "done");
    assert!(!env.path(&keys::video(&vid)).exists());

    // Upper-case spelling of the same id finds the same record.
    let upper = format!("{}/video-delete-record/{}", app.base, vid.to_uppercase());
    let body: Value = client
        .get(&upper)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["video_id"], vid.as_str());

    let bad = client
        .get(format!("{}/video-delete-record/not-a-uuid", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error_code"], "400");
    assert!(body["error"].as_str().unwrap().contains("expected a UUID"));

    // A video that still exists is not deleted behind the api's back.
    let user = env.user().await;
    let live = env.video(user, "ready").await;
    let resp = client
        .post(format!("{}/video-delete-record/{live}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error_code"], "409");
    assert!(body["error"].as_str().unwrap().contains("still exists"));
    assert_eq!(
        env.count("SELECT COUNT(*) FROM jobs").await,
        1,
        "nothing queued for it"
    );

    let wrong = client.delete(&url).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET, HEAD, POST");
    assert_eq!(
        client
            .get(format!("{}/nope", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let metrics = client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scheduler_jobs_done_total{kind=\"delete_video\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("scheduler_jobs{"), "{metrics}");
    assert!(
        metrics.contains("scheduler_oldest_due_job_age_seconds"),
        "{metrics}"
    );

    let ready = client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_naming_ffmpeg_when_it_is_missing() {
    let env = TestEnv::new().await;
    let app = start(&env, &[("FFMPEG", "/nonexistent/ffmpeg")]).await;
    let resp = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
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
