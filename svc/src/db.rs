//! The MySQL/MariaDB connection pool and the small database helpers every service needs.
//!
//! Every connection runs in UTC (`time_zone = '+00:00'`) so `NOW()` and stored `DATETIME`s mean
//! the same thing in all four processes whatever the host's zone. Queries themselves live in each
//! service's `store` modules.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

/// A pool of at most `max` connections to `url`.
///
/// Two of mysql_async's defaults each more than halved the api's throughput, so both are changed:
/// - idle connections are kept for a minute (with a minimum of 0 and the default
///   `inactive_connection_ttl` of 0, a returned connection was closed at once, and every request
///   paid a new connection, handshake and setup);
/// - a returned connection is not reset (`COM_RESET_CONNECTION` also forgets prepared statements
///   and reruns the setup). No service keeps session state on a connection: a dropped
///   transaction is rolled back, and there are no user variables or temporary tables.
pub fn pool(url: &str, max: usize) -> Result<Pool, mysql_async::UrlError> {
    let opts = Opts::from_url(url)?;
    let constraints = PoolConstraints::new(0, max.max(1)).unwrap_or_default();
    let pool_opts = PoolOpts::default()
        .with_constraints(constraints)
        .with_reset_connection(false)
        .with_inactive_connection_ttl(Duration::from_secs(60));
    let builder = OptsBuilder::from_opts(opts)
        .pool_opts(pool_opts)
        .setup(vec!["SET time_zone = '+00:00'".to_string()]);
    Ok(Pool::new(builder))
}

/// Checks the database answers within two seconds; the error is a short detail for `/readyz`.
pub async fn ping(pool: &Pool) -> Result<(), String> {
    let attempt = async {
        let mut conn = pool.get_conn().await?;
        conn.query_drop("DO 1").await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("database unreachable: {e}")),
        Err(_) => Err("database unreachable: no answer within 2s".to_string()),
    }
}

/// True for MySQL error 1062, a unique-key violation: callers turn it into 409 at the call site.
pub fn is_duplicate_key(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1062)
}

/// Applies the migrations, retrying for up to `wait` while the database is not up yet (a
/// process started together with its database). A refused migration is not retried.
pub async fn migrate_when_up(
    pool: &Pool,
    wait: Duration,
) -> Result<usize, crate::migrate::MigrateError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match crate::migrate::run(pool).await {
            Err(crate::migrate::MigrateError::Db(e))
                if tokio::time::Instant::now() < deadline && is_connection_error(&e) =>
            {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

/// Waits for the database to answer, up to `wait` (for services that do not migrate).
pub async fn wait_until_up(pool: &Pool, wait: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match ping(pool).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

fn is_connection_error(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Io(_) | mysql_async::Error::Driver(_))
}
