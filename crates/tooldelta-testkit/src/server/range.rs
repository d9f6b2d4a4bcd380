//! What a correct server answers to `Range`, `If-Range` and `If-None-Match`
//! (RFC 9110 §13-14), as pure functions.

use http_range_header::{RangeUnsatisfiableError, parse_range_header};

/// How to answer a GET or HEAD for a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeDecision {
    /// 200 with everything.
    Full,
    /// 206 with bytes `start..=end`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Decides the answer to a request's `Range` (single ranges only; a server
/// may ignore a `Range` it does not support, so several ranges get a 200).
pub(crate) fn decide(
    range: Option<&str>,
    if_range: Option<&str>,
    etag: &str,
    size: u64,
) -> RangeDecision {
    let Some(range) = range else {
        return RangeDecision::Full;
    };
    // If-Range with a date, a weak tag or another tag: the representation may
    // have changed, so the client gets all of it (§13.1.5).
    if if_range.is_some_and(|v| !strong_match(v, etag)) {
        return RangeDecision::Full;
    }
    let parsed = match parse_range_header(range) {
        Ok(p) => p,
        Err(RangeUnsatisfiableError::Unsatisfiable) => return RangeDecision::Unsatisfiable,
        Err(_) => return RangeDecision::Full,
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => RangeDecision::Partial {
            start: *ranges[0].start(),
            end: *ranges[0].end(),
        },
        Err(RangeUnsatisfiableError::Unsatisfiable) => RangeDecision::Unsatisfiable,
        // Several ranges (not supported), none (an empty file) or intolerable
        // ones (overlaps): a server may always ignore Range.
        Ok(_) | Err(_) => RangeDecision::Full,
    }
}

/// Strong comparison: both tags strong and equal.
fn strong_match(a: &str, b: &str) -> bool {
    let a = a.trim();
    !a.starts_with("W/") && !b.starts_with("W/") && a == b
}

/// `If-None-Match` (weak comparison, a list or `*`) against the current tag.
pub(crate) fn none_match(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let etag = bare(etag);
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"abc\"";

    fn d(range: &str, size: u64) -> RangeDecision {
        decide(Some(range), None, TAG, size)
    }

    #[test]
    fn single_ranges_open_and_suffix() {
        assert_eq!(
            d("bytes=10-19", 100),
            RangeDecision::Partial { start: 10, end: 19 }
        );
        assert_eq!(
            d("bytes=90-", 100),
            RangeDecision::Partial { start: 90, end: 99 }
        );
        assert_eq!(
            d("bytes=-5", 100),
            RangeDecision::Partial { start: 95, end: 99 }
        );
        assert_eq!(
            d("bytes=-500", 100),
            RangeDecision::Partial { start: 0, end: 99 }
        );
        assert_eq!(
            d("bytes=50-5000", 100),
            RangeDecision::Partial { start: 50, end: 99 }
        );
    }

    #[test]
    fn past_the_end_is_unsatisfiable_and_junk_is_ignored() {
        assert_eq!(d("bytes=100-", 100), RangeDecision::Unsatisfiable);
        assert_eq!(d("bytes=0-", 0), RangeDecision::Unsatisfiable);
        assert_eq!(d("bytes=-0", 100), RangeDecision::Unsatisfiable);
        assert_eq!(d("bytes=5-3", 100), RangeDecision::Full);
        assert_eq!(d("items=0-1", 100), RangeDecision::Full);
        assert_eq!(d("bytes=0-1,5-6", 100), RangeDecision::Full);
    }

    #[test]
    fn if_range_needs_the_same_strong_tag() {
        let p = RangeDecision::Partial { start: 1, end: 99 };
        assert_eq!(decide(Some("bytes=1-"), Some(TAG), TAG, 100), p);
        for other in ["\"x\"", "W/\"abc\"", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            assert_eq!(
                decide(Some("bytes=1-"), Some(other), TAG, 100),
                RangeDecision::Full
            );
        }
    }

    #[test]
    fn if_none_match_lists_and_star() {
        assert!(none_match("\"x\", W/\"abc\"", TAG));
        assert!(none_match("*", TAG));
        assert!(!none_match("\"x\"", TAG));
    }
}
