//! Integration tests of the web: api, streamserver and scheduler started in-process (or, where a
//! test must look at a process, as the real executables), a real MariaDB, real clients.

mod e2e;
mod headers;
mod live;
mod local_files;
mod media_origin;
mod pages;
mod proxy;
mod sharing;
mod site;
mod smoke;
mod support;
mod tus;
mod ui;
