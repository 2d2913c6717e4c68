use mysql_async::prelude::Queryable;
use svc::migrate::{self, MigrateError, Migration};
use svc::testing::TestDb;

#[tokio::test]
async fn applying_twice_is_a_no_op() {
    let db = TestDb::empty().await;
    let first = migrate::run(&db.pool).await.unwrap();
    assert_eq!(first, migrate::MIGRATIONS.len());
    let second = migrate::run(&db.pool).await.unwrap();
    assert_eq!(second, 0);
    let mut conn = db.pool.get_conn().await.unwrap();
    let recorded: u64 = conn
        .query_first("SELECT COUNT(*) FROM schema_migrations")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded as usize, migrate::MIGRATIONS.len());
    // The schema is really there.
    for table in [
        "users",
        "sessions",
        "video_info",
        "comments",
        "jobs",
        "uploads",
    ] {
        let n: Option<u64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
                (table,),
            )
            .await
            .unwrap();
        assert_eq!(n, Some(1), "table {table} missing");
    }
}

#[tokio::test]
async fn concurrent_migrations_apply_each_file_once() {
    let db = TestDb::empty().await;
    let runs = (0..4).map(|_| {
        let pool = db.pool.clone();
        tokio::spawn(async move { migrate::run(&pool).await })
    });
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().unwrap();
    }
    assert_eq!(applied, migrate::MIGRATIONS.len());
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused() {
    let db = TestDb::empty().await;
    let original = [Migration {
        version: 1,
        name: "t",
        sql: "CREATE TABLE t (id INT PRIMARY KEY)",
    }];
    let edited = [Migration {
        version: 1,
        name: "t",
        sql: "CREATE TABLE t (id BIGINT PRIMARY KEY)",
    }];
    assert_eq!(migrate::run_with(&db.pool, &original).await.unwrap(), 1);
    let err = migrate::run_with(&db.pool, &edited).await.unwrap_err();
    assert!(
        matches!(err, MigrateError::Edited { version: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("never edit an applied migration"));
}

#[tokio::test]
async fn a_failing_migration_is_reported_and_not_recorded() {
    let db = TestDb::empty().await;
    let broken = [Migration {
        version: 1,
        name: "broken",
        sql: "CREATE TABLE oops (",
    }];
    let err = migrate::run_with(&db.pool, &broken).await.unwrap_err();
    assert!(
        matches!(err, MigrateError::Failed { version: 1, .. }),
        "{err}"
    );
    let mut conn = db.pool.get_conn().await.unwrap();
    let n: u64 = conn
        .query_first("SELECT COUNT(*) FROM schema_migrations")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn enqueue_is_idempotent_and_requeues_failed_jobs() {
    use svc::jobs::{enqueue, JobKind::DeleteVideo};
    let vid = svc::VideoId::random();
    let db = TestDb::migrated().await;
    let mut conn = db.pool.get_conn().await.unwrap();
    enqueue(&mut conn, DeleteVideo, &vid).await.unwrap();
    enqueue(&mut conn, DeleteVideo, &vid).await.unwrap();
    let rows: Vec<(String, u32)> = conn
        .query("SELECT state, attempts FROM jobs")
        .await
        .unwrap();
    assert_eq!(rows, vec![("queued".to_string(), 0)]);
    conn.query_drop("UPDATE jobs SET state = 'failed', attempts = 8, last_error = 'x'")
        .await
        .unwrap();
    enqueue(&mut conn, DeleteVideo, &vid).await.unwrap();
    let row: Option<(String, u32, Option<String>)> = conn
        .query_first("SELECT state, attempts, last_error FROM jobs")
        .await
        .unwrap();
    assert_eq!(row, Some(("queued".to_string(), 0, None)));
}
