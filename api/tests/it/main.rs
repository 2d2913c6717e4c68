//! Integration tests of the api against a real MariaDB: each test gets its own database and its
//! own in-process api on a free port (`helpers::spawn_app`), started exactly as `main` does.

mod comments;
mod edits;
mod feed;
mod helpers;
mod limits;
mod live;
mod live_wire;
mod media_origin;
mod openapi;
mod renditions;
mod search;
mod security;
mod smoke;
mod social;
mod users;
mod videos;
mod visibility;
