//! Reading the top-level box layout of an MP4 (ISO/IEC 14496-12 section 4.2) to learn whether the
//! index (`moov`) comes after the media data (`mdat`). Browsers must then fetch the end of the
//! file before playing, so processing remuxes such files with `-movflags +faststart`.
//!
//! Only box headers are read; the parsing itself is pure and tested here. Nothing about codecs or
//! sample tables belongs in this module: ffprobe answers those.

use std::io;
use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// One top-level box: its four-character type and where it starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    pub kind: [u8; 4],
    pub offset: u64,
    pub size: u64,
}

/// Parses the box header at `offset` from `bytes` (at least 16 bytes, or what is left of the
/// file), in a file of `file_len` bytes. A 32-bit size of 1 means a 64-bit `largesize` follows
/// the type; 0 means the box runs to the end of the file. `None` for anything malformed: a size
/// smaller than its own header, or past the end of the file.
pub fn parse_header(bytes: &[u8], offset: u64, file_len: u64) -> Option<BoxHeader> {
    if bytes.len() < 8 {
        return None;
    }
    let size32 = u32::from_be_bytes(bytes[0..4].try_into().ok()?);
    let kind: [u8; 4] = bytes[4..8].try_into().ok()?;
    let (size, header_len) = match size32 {
        0 => (file_len.checked_sub(offset)?, 8),
        1 => {
            let large = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
            (large, 16)
        }
        n => (u64::from(n), 8),
    };
    if size < header_len || offset.checked_add(size)? > file_len {
        return None;
    }
    Some(BoxHeader { kind, offset, size })
}

/// Whether the box list puts `mdat` before `moov`, which is what faststart fixes. A file with
/// either box missing does not need it (or cannot be helped by it).
pub fn moov_after_mdat(boxes: &[BoxHeader]) -> bool {
    let position = |kind: &[u8; 4]| boxes.iter().position(|b| &b.kind == kind);
    matches!((position(b"mdat"), position(b"moov")), (Some(mdat), Some(moov)) if mdat < moov)
}

/// The top-level boxes of the file at `path`, read header by header (a handful of small reads,
/// whatever the file size). Stops quietly at the first malformed header: callers only need to
/// know the order of the boxes that are well-formed.
pub async fn top_level_boxes(path: &Path) -> io::Result<Vec<BoxHeader>> {
    let mut file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let mut boxes = Vec::new();
    let mut offset = 0u64;
    // A real MP4 has a few top-level boxes; the bound keeps a crafted file from looping long.
    while offset < len && boxes.len() < 1024 {
        file.seek(io::SeekFrom::Start(offset)).await?;
        let mut buf = [0u8; 16];
        let want = usize::try_from((len - offset).min(16)).unwrap_or(16);
        file.read_exact(&mut buf[..want]).await?;
        match parse_header(&buf[..want], offset, len) {
            Some(header) => {
                offset += header.size;
                boxes.push(header);
            }
            None => break,
        }
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(size: u32, kind: &[u8; 4]) -> Vec<u8> {
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v
    }

    #[test]
    fn parses_a_plain_32_bit_header() {
        let h = parse_header(&header(24, b"ftyp"), 0, 100).unwrap();
        assert_eq!(
            h,
            BoxHeader {
                kind: *b"ftyp",
                offset: 0,
                size: 24
            }
        );
    }

    #[test]
    fn parses_a_64_bit_largesize() {
        let mut bytes = header(1, b"mdat");
        bytes.extend_from_slice(&(5_000_000_000u64).to_be_bytes());
        let h = parse_header(&bytes, 32, 6_000_000_000).unwrap();
        assert_eq!(h.size, 5_000_000_000);
        assert_eq!(&h.kind, b"mdat");
        // A largesize header cut short is malformed.
        assert_eq!(parse_header(&bytes[..12], 32, 6_000_000_000), None);
    }

    #[test]
    fn size_zero_runs_to_the_end_of_the_file() {
        let h = parse_header(&header(0, b"mdat"), 40, 1000).unwrap();
        assert_eq!(h.size, 960);
    }

    #[test]
    fn rejects_malformed_headers() {
        // Smaller than its own header.
        assert_eq!(parse_header(&header(4, b"free"), 0, 100), None);
        assert_eq!(parse_header(&header(7, b"free"), 0, 100), None);
        // Larger than the file.
        assert_eq!(parse_header(&header(200, b"mdat"), 0, 100), None);
        assert_eq!(parse_header(&header(60, b"mdat"), 50, 100), None);
        // Too few bytes to hold a header.
        assert_eq!(parse_header(b"\0\0\0", 0, 100), None);
        // A 64-bit size below 16 bytes.
        let mut bytes = header(1, b"mdat");
        bytes.extend_from_slice(&8u64.to_be_bytes());
        assert_eq!(parse_header(&bytes, 0, 100), None);
    }

    fn boxes(kinds: &[&[u8; 4]]) -> Vec<BoxHeader> {
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| BoxHeader {
                kind: **k,
                offset: i as u64 * 10,
                size: 10,
            })
            .collect()
    }

    #[test]
    fn moov_after_mdat_only_when_both_exist_in_that_order() {
        assert!(moov_after_mdat(&boxes(&[b"ftyp", b"mdat", b"moov"])));
        assert!(moov_after_mdat(&boxes(&[
            b"ftyp", b"free", b"mdat", b"moov"
        ])));
        assert!(!moov_after_mdat(&boxes(&[b"ftyp", b"moov", b"mdat"])));
        assert!(!moov_after_mdat(&boxes(&[b"ftyp", b"mdat"])));
        assert!(!moov_after_mdat(&boxes(&[b"ftyp", b"moov"])));
        assert!(!moov_after_mdat(&[]));
    }

    #[tokio::test]
    async fn reads_the_boxes_of_a_file_and_stops_at_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.mp4");
        let mut bytes = header(16, b"ftyp");
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend(header(12, b"mdat"));
        bytes.extend_from_slice(&[1; 4]);
        bytes.extend(header(8, b"moov"));
        bytes.extend_from_slice(b"junk!");
        std::fs::write(&path, &bytes).unwrap();
        let found = top_level_boxes(&path).await.unwrap();
        let kinds: Vec<&[u8; 4]> = found.iter().map(|b| &b.kind).collect();
        assert_eq!(kinds, vec![b"ftyp", b"mdat", b"moov"]);
        assert!(moov_after_mdat(&found));
    }
}
