//! Integration tests of the web: the real binaries of every process, a real MariaDB, real clients.

mod e2e;
mod headers;
mod pages;
mod proxy;
mod smoke;
mod support;
mod tus;
