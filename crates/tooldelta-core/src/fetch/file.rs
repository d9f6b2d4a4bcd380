//! `file:///DIR` mirrors: an export tree on a local disk (a USB disk at an
//! air-gapped site), answered as HTTP would answer it — 200, 206 with
//! `Content-Range`, 404, 416 — so every byte goes through the one download
//! path: the same resume decision, size limits, hashing and verification as
//! a mirror over HTTP. Routes that are folders in an export (`/api/v1/tools`,
//! `/api/v1/tools/{id}`) are read from their `index.json`, as nginx does.

use std::io::SeekFrom;
use std::path::PathBuf;

use reqwest::StatusCode;
use reqwest::Url;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Bytes read from the disk per body chunk.
const READ_CHUNK: usize = 256 << 10;

/// The answer to a GET of `url` (a `file:` URL) with an optional `Range`
/// header value (a single range, as the fetcher sends).
pub(crate) async fn get(url: &str, range: Option<&str>) -> std::io::Result<reqwest::Response> {
    let Some(path) = Url::parse(url).ok().and_then(|u| u.to_file_path().ok()) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let Some((mut file, len)) = open(path).await? else {
        return Ok(status(StatusCode::NOT_FOUND));
    };
    let Some(range) = range else {
        let mut resp = body(file, StatusCode::OK);
        resp.headers_mut().insert(CONTENT_LENGTH, len.into());
        return Ok(resp);
    };
    let Some((start, end)) = parse_range(range, len) else {
        let mut resp = status(StatusCode::RANGE_NOT_SATISFIABLE);
        resp.headers_mut()
            .insert(CONTENT_RANGE, header(&format!("bytes */{len}")));
        return Ok(resp);
    };
    file.seek(SeekFrom::Start(start)).await?;
    let mut resp = body(file.take(end + 1 - start), StatusCode::PARTIAL_CONTENT);
    let headers = resp.headers_mut();
    headers.insert(CONTENT_RANGE, header(&format!("bytes {start}-{end}/{len}")));
    headers.insert(CONTENT_LENGTH, (end + 1 - start).into());
    Ok(resp)
}

/// The regular file at `path` (or its folder's `index.json`) and its length;
/// `None` when there is none. Links are followed: an export copied to a
/// stick is plain files, and the content is verified whatever it is.
async fn open(path: PathBuf) -> std::io::Result<Option<(tokio::fs::File, u64)>> {
    let path = match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_dir() => path.join("index.json"),
        Ok(_) => path,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let meta = file.metadata().await?;
            Ok(meta.is_file().then_some((file, meta.len())))
        }
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` of a file of `len` bytes, as the
/// inclusive range served; `None` when it is not satisfiable.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(len.checked_sub(1)?),
        ),
    };
    (start <= end && end < len).then_some((start, end))
}

fn body<R>(reader: R, code: StatusCode) -> reqwest::Response
where
    R: tokio::io::AsyncRead + Send + Sync + 'static,
{
    let stream = ReaderStream::with_capacity(reader, READ_CHUNK);
    let mut resp = http::Response::new(reqwest::Body::wrap_stream(stream));
    *resp.status_mut() = code;
    reqwest::Response::from(resp)
}

fn status(code: StatusCode) -> reqwest::Response {
    let mut resp = http::Response::new(reqwest::Body::from(Vec::new()));
    *resp.status_mut() = code;
    reqwest::Response::from(resp)
}

fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("digits, spaces, dashes and slashes are a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_served_as_a_mirror_serves_them() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=90-500", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[tokio::test]
    async fn a_ranged_get_answers_206_with_the_bytes_and_a_missing_file_404() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blob"), b"0123456789").unwrap();
        let url = Url::from_file_path(dir.path().join("blob"))
            .unwrap()
            .to_string();
        let resp = get(&url, Some("bytes=3-5")).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(resp.headers()[CONTENT_RANGE], "bytes 3-5/10");
        assert_eq!(resp.bytes().await.unwrap(), &b"345"[..]);
        let whole = get(&url, None).await.unwrap();
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.bytes().await.unwrap(), &b"0123456789"[..]);
        let gone = get(&format!("{url}-not-there"), None).await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        let past = get(&url, Some("bytes=10-")).await.unwrap();
        assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    }
}
