//! Integration tests of the shared service kit against a real MariaDB.

mod limits;
mod migrations;
mod readiness;
mod shutdown;
mod storage;
mod takeover;
