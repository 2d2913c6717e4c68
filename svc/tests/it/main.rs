//! Integration tests of the shared service kit against a real MariaDB.

mod migrations;
mod readiness;
mod shutdown;
