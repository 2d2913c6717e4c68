//! Local-file answers: how the streamserver lets web send a file itself (issue 16, item 3).
//!
//! Without a media origin every video byte crosses web's proxy: the streamserver reads the file
//! and writes it to web, web reads it and writes it to the browser, two processes copying each
//! byte twice. When web and the streamserver share one host and one local storage directory
//! (`STORAGE_DIR` set for web too, as `./deploy.sh` does), web offers to send files itself:
//!
//! 1. web sends the media `GET` with [`ACCEPT`] and a request body it keeps open (the *lease*);
//! 2. the streamserver decides everything as always (access, grant, rate, stream slot,
//!    preconditions, range) and, for a single-part `200`/`206` of a local file larger than one
//!    read chunk, answers with the usual headers, no `Content-Length`, an empty body, and
//!    [`LOCAL_FILE`] naming the storage key, the byte range, and the size and modification
//!    time of the file it opened. It holds the stream slot until the lease ends;
//! 3. web opens the key under its `STORAGE_DIR`, checks the size and time are those the
//!    streamserver saw (else it asks again without [`ACCEPT`] and proxies the bytes as before),
//!    sends the range to the browser, then ends the lease, which frees the slot.
//!
//! The streamserver honours [`ACCEPT`] only from a trusted proxy (`TRUSTED_PROXIES`), and web
//! removes both headers from whatever a browser sends or would receive, so neither side of the
//! exchange can be played by anyone else. Small answers, `HEAD`, multipart ranges and S3
//! objects are proxied as before.

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};

use crate::storage::{check_key, OpenObject};

/// Request header: the proxy can send local files itself (its value is ignored).
pub const ACCEPT: HeaderName = HeaderName::from_static("x-local-file-accept");

/// Response header: the file the proxy is to send, as [`LocalFile::header`] writes it.
pub const LOCAL_FILE: HeaderName = HeaderName::from_static("x-local-file");

/// What a local-file answer names: which bytes of which file, as the streamserver opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The storage key (`videos/<vid>`, `videos/<vid>/hls/240/media.mp4`).
    pub key: String,
    /// The bytes to send, within `0..size`.
    pub range: Range<u64>,
    /// The file's size when the streamserver opened it.
    pub size: u64,
    /// Its modification time then, in nanoseconds since the epoch.
    pub modified: u128,
}

impl LocalFile {
    /// `range` of the object `key`, opened as `object`.
    pub fn of(key: &str, object: &dyn OpenObject, range: Range<u64>) -> Self {
        LocalFile {
            key: key.to_string(),
            range,
            size: object.size(),
            modified: nanos(object.modified()),
        }
    }

    /// `<start>-<end> <size> <modified> <key>`, `end` exclusive.
    pub fn header(&self) -> HeaderValue {
        let text = format!(
            "{}-{} {} {} {}",
            self.range.start, self.range.end, self.size, self.modified, self.key
        );
        HeaderValue::try_from(text).expect("digits, spaces and a checked storage key")
    }

    /// The header back; `None` for anything [`LocalFile::header`] would not have written,
    /// including a key that could leave the storage root or a range outside the file.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let mut fields = value.to_str().ok()?.splitn(4, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let range = start.parse().ok()?..end.parse().ok()?;
        let size = fields.next()?.parse().ok()?;
        let modified = fields.next()?.parse().ok()?;
        let key = fields.next()?.to_string();
        let valid = range.start < range.end && range.end <= size && check_key(&key).is_ok();
        valid.then_some(LocalFile {
            key,
            range,
            size,
            modified,
        })
    }

    /// Whether `object` is the file the streamserver opened: same size, same modification
    /// time. A file replaced since (objects are published by rename) differs in its time.
    pub fn is(&self, object: &dyn OpenObject) -> bool {
        object.size() == self.size && nanos(object.modified()) == self.modified
    }
}

fn nanos(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, range: Range<u64>) -> LocalFile {
        LocalFile {
            key: key.into(),
            range,
            size: 5_000_000,
            modified: 1_780_000_000_123_456_789,
        }
    }

    #[test]
    fn the_header_reads_back_as_written() {
        let f = file(
            "videos/0b5f2a1c-0000-4000-8000-000000000001/hls/240/media.mp4",
            10..1_048_586,
        );
        assert_eq!(
            f.header().to_str().unwrap(),
            "10-1048586 5000000 1780000000123456789 \
             videos/0b5f2a1c-0000-4000-8000-000000000001/hls/240/media.mp4"
        );
        assert_eq!(LocalFile::parse(&f.header()), Some(f));
    }

    #[test]
    fn a_header_naming_anything_outside_the_storage_or_the_file_is_refused() {
        for text in [
            "0-10 100 1 ../etc/passwd",
            "0-10 100 1 videos/../../etc/passwd",
            "0-10 100 1 /etc/passwd",
            "0-10 100 1 ",
            "0-101 100 1 videos/x",
            "10-10 100 1 videos/x",
            "0-10 100 videos/x",
            "0-10 x 1 videos/x",
            "10 100 1 videos/x",
        ] {
            let value = HeaderValue::from_static(text);
            assert_eq!(LocalFile::parse(&value), None, "{text}");
        }
    }
}
