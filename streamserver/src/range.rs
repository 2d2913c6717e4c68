//! The `Range` header of RFC 9110 section 14.2, parsed against a representation length.
//!
//! Pure functions only: no I/O, no headers beyond the one string, so every case is unit-tested
//! here. Deciding whether the range applies at all (`If-Range`, preconditions) is
//! `conditional`'s job; streaming the bytes is `playback`'s.

use std::ops::Range;

/// At most this many ranges are honoured in one request; more are ignored as a whole (RFC 9110
/// section 14.2 lets a server ignore a Range it finds excessive) and the full file is sent.
pub const MAX_RANGES: usize = 16;

/// What a `Range` header asks for, relative to a representation of known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRanges {
    /// No range applies: unknown unit, bad syntax or too many ranges. RFC 9110 section 14.2:
    /// "a server MAY ignore the Range header field" — answer 200 with the whole representation.
    Ignore,
    /// Every range lies past the end: 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
    /// The satisfiable ranges, in request order, clamped to the length (end exclusive).
    Ranges(Vec<Range<u64>>),
}

/// Parses `header` (the field value) for a representation of `len` bytes.
pub fn parse(header: &str, len: u64) -> ByteRanges {
    let Some((unit, set)) = header.split_once('=') else {
        return ByteRanges::Ignore;
    };
    // Range units are case-insensitive (RFC 9110 section 14.1); anything but bytes is ignored.
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return ByteRanges::Ignore;
    }
    let mut ranges = Vec::new();
    let mut any = false;
    for spec in set.split(',') {
        let spec = spec.trim();
        // Empty list elements are allowed and skipped (RFC 9110 section 5.6.1).
        if spec.is_empty() {
            continue;
        }
        any = true;
        let Some(range) = parse_spec(spec) else {
            return ByteRanges::Ignore;
        };
        if let Some(r) = range.resolve(len) {
            ranges.push(r);
        }
    }
    if !any {
        return ByteRanges::Ignore;
    }
    if ranges.is_empty() {
        return ByteRanges::Unsatisfiable;
    }
    if ranges.len() > MAX_RANGES {
        return ByteRanges::Ignore;
    }
    ByteRanges::Ranges(ranges)
}

/// One `range-spec` before it meets the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last` or `first-` (last = None).
    FromTo { first: u64, last: Option<u64> },
    /// `-suffix`: the last `suffix` bytes.
    Suffix(u64),
}

impl Spec {
    /// The bytes this spec selects of a `len`-byte representation, or `None` when it is
    /// unsatisfiable (RFC 9110 section 14.1.2: a first-pos at or past the end, or a zero suffix).
    fn resolve(self, len: u64) -> Option<Range<u64>> {
        match self {
            Spec::FromTo { first, last } => {
                if first >= len {
                    return None;
                }
                let end = last.map_or(len, |last| last.saturating_add(1).min(len));
                Some(first..end)
            }
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => {
                if len == 0 {
                    return None;
                }
                Some(len.saturating_sub(n)..len)
            }
        }
    }
}

fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return Some(Spec::Suffix(digits(last)?));
    }
    let first = digits(first)?;
    if last.is_empty() {
        return Some(Spec::FromTo { first, last: None });
    }
    let last = digits(last)?;
    // "first > last" makes the whole header invalid (RFC 9110 section 14.1.1).
    if last < first {
        return None;
    }
    Some(Spec::FromTo {
        first,
        last: Some(last),
    })
}

/// 1*DIGIT; values past u64 saturate (they are past any file's end anyway).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u64>().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ByteRanges::*;

    fn one(r: Range<u64>) -> ByteRanges {
        Ranges(vec![r])
    }

    #[test]
    fn single_ranges() {
        assert_eq!(parse("bytes=0-499", 1000), one(0..500));
        assert_eq!(parse("bytes=500-999", 1000), one(500..1000));
        assert_eq!(parse("bytes=0-0", 1000), one(0..1));
        assert_eq!(parse("bytes=999-999", 1000), one(999..1000));
        // Last position past the end is clamped (RFC 9110 section 14.1.2).
        assert_eq!(parse("bytes=500-5000", 1000), one(500..1000));
        assert_eq!(parse("bytes=0-18446744073709551616", 10), one(0..10));
    }

    #[test]
    fn browser_probes() {
        // Chrome and Firefox start with an open range, Safari probes two bytes.
        assert_eq!(parse("bytes=0-", 1000), one(0..1000));
        assert_eq!(parse("bytes=0-1", 1000), one(0..2));
    }

    #[test]
    fn open_and_suffix_ranges() {
        assert_eq!(parse("bytes=9500-", 10000), one(9500..10000));
        assert_eq!(parse("bytes=-500", 10000), one(9500..10000));
        assert_eq!(parse("bytes=-1", 10), one(9..10));
        // A suffix longer than the file selects all of it.
        assert_eq!(parse("bytes=-5000", 10), one(0..10));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse("bytes=1000-2000", 1000), Unsatisfiable);
        assert_eq!(parse("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse("bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse("bytes=2000-3000,5000-", 1000), Unsatisfiable);
    }

    #[test]
    fn unknown_units_and_bad_syntax_are_ignored() {
        assert_eq!(parse("items=0-5", 1000), Ignore);
        assert_eq!(parse("bytes", 1000), Ignore);
        assert_eq!(parse("bytes=", 1000), Ignore);
        assert_eq!(parse("bytes=,", 1000), Ignore);
        assert_eq!(parse("bytes=abc", 1000), Ignore);
        assert_eq!(parse("bytes=5-1", 1000), Ignore);
        assert_eq!(parse("bytes=-", 1000), Ignore);
        assert_eq!(parse("bytes=1-2-3", 1000), Ignore);
        assert_eq!(parse("bytes=+1-2", 1000), Ignore);
        assert_eq!(parse("bytes=0x10-20", 1000), Ignore);
        assert_eq!(parse("bytes=--5", 1000), Ignore);
        assert_eq!(parse("", 1000), Ignore);
        // One bad spec spoils the whole header.
        assert_eq!(parse("bytes=0-5,x", 1000), Ignore);
    }

    #[test]
    fn case_and_whitespace() {
        assert_eq!(parse("Bytes=0-1", 10), one(0..2));
        assert_eq!(parse("BYTES=0-1", 10), one(0..2));
        assert_eq!(parse("bytes= 0-1 , 4-5", 10), Ranges(vec![0..2, 4..6]));
    }

    #[test]
    fn multiple_ranges_keep_order_and_drop_unsatisfiable_members() {
        assert_eq!(
            parse("bytes=0-9,100-109", 1000),
            Ranges(vec![0..10, 100..110])
        );
        assert_eq!(
            parse("bytes=100-109,0-9", 1000),
            Ranges(vec![100..110, 0..10])
        );
        assert_eq!(parse("bytes=0-9,5000-", 1000), one(0..10));
        assert_eq!(
            parse("bytes=0-9,,-10", 1000),
            Ranges(vec![0..10, 990..1000])
        );
    }

    #[test]
    fn too_many_ranges_are_ignored() {
        let many = (0..=MAX_RANGES)
            .map(|i| format!("{}-{}", i * 10, i * 10 + 1))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(parse(&format!("bytes={many}"), 10_000), Ignore);
    }
}
