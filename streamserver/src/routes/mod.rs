//! Request handlers, one module per resource: playback (`/videos/`, `/thumbnails/`), plain
//! uploads (`/upload/`) and resumable uploads (`/files/`). The route table and dispatch are in
//! `lib.rs`; what the two upload kinds share is in `ingest`.

pub mod playback;
pub mod tus;
pub mod upload;
