//! Integration tests of the web: the real binaries of every process, a real MariaDB, real clients.

mod pages;
mod proxy;
mod smoke;
mod support;
