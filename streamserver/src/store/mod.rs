//! The streamserver's SQL, one module per table; re-exported flat so call sites read
//! `store::playback(...)`, `store::upload(...)`.

mod uploads;
mod videos;

pub use uploads::*;
pub use videos::*;
