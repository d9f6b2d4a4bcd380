//! The decisions of RFC 9110 §13 and §14 for one representation, kept pure so
//! each rule is unit-tested: preconditions (`If-Match`, `If-None-Match`,
//! `If-Range`) and the byte range to send.

use std::ops::RangeInclusive;

use axum::http::{HeaderMap, Method, header};
use http_range_header::{RangeUnsatisfiableError, parse_range_header};

/// What to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// 200 with the whole representation.
    Full,
    /// 206 with one byte range.
    Partial(RangeInclusive<u64>),
    /// 304: the client's copy is current.
    NotModified,
    /// 412: `If-Match` failed.
    PreconditionFailed,
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Applies the preconditions and `Range` in the order RFC 9110 §13.2.2 gives.
/// `etag` is the full strong tag, quotes included.
pub(crate) fn decide(method: &Method, headers: &HeaderMap, etag: &str, size: u64) -> Decision {
    if let Some(value) = header_str(headers, &header::IF_MATCH)
        && !list_matches(value, etag, Compare::Strong)
    {
        return Decision::PreconditionFailed;
    }
    if let Some(value) = header_str(headers, &header::IF_NONE_MATCH)
        && list_matches(value, etag, Compare::Weak)
    {
        return if method == Method::GET || method == Method::HEAD {
            Decision::NotModified
        } else {
            Decision::PreconditionFailed
        };
    }
    // Range is defined for GET only (RFC 9110 §14.2); HEAD answers as a plain GET would.
    if method != Method::GET {
        return Decision::Full;
    }
    let Some(range) = header_str(headers, &header::RANGE) else {
        return Decision::Full;
    };
    if let Some(if_range) = headers.get(header::IF_RANGE) {
        // A stale validator (or a date: we send no Last-Modified, so no date
        // can prove the copy current) means: send the whole thing.
        if if_range.to_str().ok().map(str::trim) != Some(etag) {
            return Decision::Full;
        }
    }
    range_decision(range, size)
}

/// Single ranges only: a syntactically invalid header or several ranges are
/// ignored (RFC 9110 §14.2 allows it), so the client gets the whole file.
fn range_decision(range: &str, size: u64) -> Decision {
    let Ok(parsed) = parse_range_header(range) else {
        return Decision::Full;
    };
    if parsed.len() != 1 {
        return Decision::Full;
    }
    match parsed.validate(size) {
        Ok(ranges) => match ranges.into_iter().next() {
            Some(r) => Decision::Partial(r),
            // Only for an empty file and a suffix range: the whole (empty) file.
            None => Decision::Full,
        },
        Err(RangeUnsatisfiableError::Unsatisfiable) => Decision::Unsatisfiable,
        Err(_) => Decision::Full,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    Strong,
    Weak,
}

/// Whether an `If-Match` / `If-None-Match` list (`*` or tags separated by
/// commas) contains `etag`. Weak comparison ignores a `W/` prefix on either side.
fn list_matches(list: &str, etag: &str, compare: Compare) -> bool {
    let list = list.trim();
    if list == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|tag| match compare {
        Compare::Strong => tag == etag,
        Compare::Weak => tag.strip_prefix("W/").unwrap_or(tag) == etag,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TAG: &str = "\"abc\"";

    fn with(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn get(pairs: &[(header::HeaderName, &str)]) -> Decision {
        decide(&Method::GET, &with(pairs), TAG, 100)
    }

    #[test]
    fn ranges_single_suffix_open_and_clamped() {
        assert_eq!(
            get(&[(header::RANGE, "bytes=0-9")]),
            Decision::Partial(0..=9)
        );
        assert_eq!(
            get(&[(header::RANGE, "bytes=90-")]),
            Decision::Partial(90..=99)
        );
        assert_eq!(
            get(&[(header::RANGE, "bytes=-10")]),
            Decision::Partial(90..=99)
        );
        assert_eq!(
            get(&[(header::RANGE, "bytes=-1000")]),
            Decision::Partial(0..=99)
        );
        assert_eq!(
            get(&[(header::RANGE, "bytes=95-1000")]),
            Decision::Partial(95..=99)
        );
    }

    #[test]
    fn unsatisfiable_invalid_and_multi_ranges() {
        assert_eq!(
            get(&[(header::RANGE, "bytes=100-")]),
            Decision::Unsatisfiable
        );
        assert_eq!(get(&[(header::RANGE, "bytes=-0")]), Decision::Unsatisfiable);
        assert_eq!(get(&[(header::RANGE, "bytes=9-2")]), Decision::Full);
        assert_eq!(get(&[(header::RANGE, "items=0-1")]), Decision::Full);
        assert_eq!(get(&[(header::RANGE, "bytes=0-1,5-6")]), Decision::Full);
        assert_eq!(
            decide(
                &Method::HEAD,
                &with(&[(header::RANGE, "bytes=0-1")]),
                TAG,
                100
            ),
            Decision::Full
        );
    }

    #[test]
    fn conditionals() {
        assert_eq!(get(&[(header::IF_NONE_MATCH, TAG)]), Decision::NotModified);
        assert_eq!(
            get(&[(header::IF_NONE_MATCH, "\"x\", W/\"abc\"")]),
            Decision::NotModified
        );
        assert_eq!(get(&[(header::IF_NONE_MATCH, "*")]), Decision::NotModified);
        assert_eq!(get(&[(header::IF_NONE_MATCH, "\"x\"")]), Decision::Full);
        assert_eq!(
            get(&[(header::IF_MATCH, "\"x\"")]),
            Decision::PreconditionFailed
        );
        assert_eq!(
            get(&[(header::IF_MATCH, "W/\"abc\"")]),
            Decision::PreconditionFailed
        );
        let fresh = [(header::RANGE, "bytes=1-2"), (header::IF_RANGE, TAG)];
        assert_eq!(get(&fresh), Decision::Partial(1..=2));
        let stale = [(header::RANGE, "bytes=1-2"), (header::IF_RANGE, "\"old\"")];
        assert_eq!(get(&stale), Decision::Full);
        let weak = [
            (header::RANGE, "bytes=1-2"),
            (header::IF_RANGE, "W/\"abc\""),
        ];
        assert_eq!(get(&weak), Decision::Full);
        let date = [
            (header::RANGE, "bytes=1-2"),
            (header::IF_RANGE, "Wed, 21 Oct 2015 07:28:00 GMT"),
        ];
        assert_eq!(get(&date), Decision::Full);
    }

    #[test]
    fn empty_file() {
        let h = with(&[(header::RANGE, "bytes=0-")]);
        assert_eq!(decide(&Method::GET, &h, TAG, 0), Decision::Unsatisfiable);
        let h = with(&[(header::RANGE, "bytes=-5")]);
        assert_eq!(decide(&Method::GET, &h, TAG, 0), Decision::Full);
    }
}
