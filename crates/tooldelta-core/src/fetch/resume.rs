//! The resume decision, pure: what to do with a response to a (possibly
//! ranged) request, given how many bytes of the file are already on disk.
//!
//! Rules (rustup's, made stricter): a ranged request is continued only by a
//! `206` whose `Content-Range` starts exactly where the partial ends and whose
//! total is the manifest size. A `200` to a ranged request means the server
//! ignored the Range (or `If-Range` found a changed ETag): its body is the
//! whole file, so the partial is truncated and the body written from zero. Any
//! other `206` (wrong start, wrong total) or a `416` is not trusted: the
//! partial is truncated and the file requested again without a Range.

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Append the body to the partial, which keeps its first `offset` bytes.
    Append {
        /// Bytes of the partial kept.
        offset: u64,
    },
    /// Truncate the partial and write the body from byte zero.
    FromZero,
    /// Drop this response, truncate the partial, and ask again without a Range.
    Reissue,
    /// An HTTP error status: this source cannot serve the file now.
    Status(u16),
}

/// Decides what a response means for a request that asked for bytes from
/// `offset` on (`0`: no Range header was sent) of a file of `size` bytes.
pub fn decide(offset: u64, status: u16, content_range: Option<&str>, size: u64) -> Resume {
    match status {
        200 => Resume::FromZero,
        206 => match content_range.and_then(parse_content_range) {
            // The range must also end inside the file the manifest describes
            // (with a total of `*`, nothing else bounds it).
            Some(r) if r.start == offset && r.end < size && r.total.is_none_or(|t| t == size) => {
                Resume::Append { offset }
            }
            _ => Resume::Reissue,
        },
        416 if offset > 0 => Resume::Reissue,
        other => Resume::Status(other),
    }
}

/// A parsed `Content-Range: bytes start-end/total` (total may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: u64,
    /// Complete length, if stated.
    pub total: Option<u64>,
}

/// Parses a `Content-Range` header value; `None` when it is malformed.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (start <= end && total.is_none_or(|t| end < t)).then_some(ContentRange { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_206_starting_at_the_partial_end_is_appended() {
        assert_eq!(
            decide(100, 206, Some("bytes 100-999/1000"), 1000),
            Resume::Append { offset: 100 }
        );
    }

    #[test]
    fn a_200_to_a_ranged_request_restarts_from_zero_with_its_body() {
        assert_eq!(decide(100, 200, None, 1000), Resume::FromZero);
    }

    #[test]
    fn a_206_starting_elsewhere_is_refused_and_reissued() {
        assert_eq!(
            decide(100, 206, Some("bytes 0-999/1000"), 1000),
            Resume::Reissue
        );
        assert_eq!(
            decide(100, 206, Some("bytes 150-999/1000"), 1000),
            Resume::Reissue
        );
    }

    #[test]
    fn a_206_for_a_file_of_another_size_is_refused() {
        assert_eq!(
            decide(100, 206, Some("bytes 100-1999/2000"), 1000),
            Resume::Reissue
        );
    }

    #[test]
    fn a_206_running_past_the_manifest_size_is_refused_even_with_an_unknown_total() {
        assert_eq!(decide(5, 206, Some("bytes 5-10/*"), 10), Resume::Reissue);
    }

    #[test]
    fn a_206_without_or_with_a_garbled_content_range_is_refused() {
        assert_eq!(decide(100, 206, None, 1000), Resume::Reissue);
        assert_eq!(
            decide(100, 206, Some("items 100-999/1000"), 1000),
            Resume::Reissue
        );
        assert_eq!(
            decide(100, 206, Some("bytes 999-100/1000"), 1000),
            Resume::Reissue
        );
    }

    #[test]
    fn an_unknown_total_is_accepted_when_the_start_matches() {
        assert_eq!(
            decide(5, 206, Some("bytes 5-9/*"), 10),
            Resume::Append { offset: 5 }
        );
    }

    #[test]
    fn a_416_to_a_ranged_request_is_reissued_without_range() {
        assert_eq!(decide(1000, 416, None, 1000), Resume::Reissue);
    }

    #[test]
    fn error_statuses_are_reported() {
        assert_eq!(decide(0, 404, None, 10), Resume::Status(404));
        assert_eq!(decide(0, 503, None, 10), Resume::Status(503));
        assert_eq!(decide(0, 416, None, 10), Resume::Status(416));
    }

    #[test]
    fn a_fresh_request_accepts_a_206_from_zero() {
        assert_eq!(
            decide(0, 206, Some("bytes 0-9/10"), 10),
            Resume::Append { offset: 0 }
        );
    }
}
