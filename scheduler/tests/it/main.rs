//! Integration tests of the scheduler: real MariaDB (a fresh database per test), real files in a
//! temporary storage directory, real ffmpeg, and the runner driven either one step at a time
//! (`dispatch_once`, `execute_one`) or through its real loop.

mod formats;
mod helpers;
mod housekeeping;
mod http;
mod jobs;
mod ladder;
mod openapi;
mod process;
mod reconcile;
mod resources;
mod s3;
mod samples;
mod smoke;
mod two_schedulers;
