//! A folder served the way the mirror serves its routes: single ranges, 416,
//! strong `ETag` = `"<sha256>"`, `If-Range`, `If-None-Match`.

use std::collections::HashMap;
use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use percent_encoding::percent_decode_str;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{OriginRequest, OriginResponse};
use crate::server::range::{RangeDecision, decide, none_match};

/// Read size for file bodies: large enough for GB/s on loopback.
const CHUNK: usize = 256 * 1024;

/// What identifies a file's content without reading it, to cache its hash.
type FileKey = (u64, Option<SystemTime>);

#[derive(Debug)]
pub(crate) struct DirOrigin {
    root: PathBuf,
    /// SHA-256 of non-blob files, keyed by path and invalidated on change.
    etags: Mutex<HashMap<PathBuf, (FileKey, String)>>,
}

impl DirOrigin {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            etags: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn size(&self, path: &str) -> Option<u64> {
        let file = self.resolve(path).await?;
        Some(tokio::fs::metadata(file).await.ok()?.len())
    }

    pub(crate) async fn serve(&self, req: &OriginRequest) -> OriginResponse {
        if req.method != Method::GET && req.method != Method::HEAD {
            return OriginResponse::text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        }
        let Some(file) = self.resolve(&req.path).await else {
            return OriginResponse::text(StatusCode::NOT_FOUND, "not found\n");
        };
        match self.serve_file(req, &file).await {
            Ok(resp) => resp,
            Err(e) => OriginResponse::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot read {}: {e}\n", file.display()),
            ),
        }
    }

    async fn serve_file(&self, req: &OriginRequest, file: &Path) -> io::Result<OriginResponse> {
        let meta = tokio::fs::metadata(file).await?;
        let size = meta.len();
        let etag = self.etag(file, size, meta.modified().ok()).await?;
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        headers.insert(header::ETAG, header_value(&etag));
        if req
            .if_none_match
            .as_deref()
            .is_some_and(|h| none_match(h, &etag))
        {
            let mut resp = OriginResponse::empty(StatusCode::NOT_MODIFIED);
            resp.headers = headers;
            return Ok(resp);
        }
        headers.insert(header::CONTENT_TYPE, content_type(file));
        let (status, start, len) =
            match decide(req.range.as_deref(), req.if_range.as_deref(), &etag, size) {
                RangeDecision::Full => (StatusCode::OK, 0, size),
                RangeDecision::Partial { start, end } => {
                    headers.insert(
                        header::CONTENT_RANGE,
                        header_value(&format!("bytes {start}-{end}/{size}")),
                    );
                    (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
                }
                RangeDecision::Unsatisfiable => {
                    let mut resp = OriginResponse::empty(StatusCode::RANGE_NOT_SATISFIABLE);
                    headers.insert(
                        header::CONTENT_RANGE,
                        header_value(&format!("bytes */{size}")),
                    );
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                    resp.headers = headers;
                    resp.total = Some(size);
                    return Ok(resp);
                }
            };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        let body: super::BodyStream = if req.method == Method::HEAD || len == 0 {
            Box::pin(futures_util::stream::empty())
        } else {
            let mut f = tokio::fs::File::open(file).await?;
            f.seek(SeekFrom::Start(start)).await?;
            Box::pin(ReaderStream::with_capacity(f.take(len), CHUNK))
        };
        Ok(OriginResponse {
            status,
            headers,
            body,
            body_offset: start,
            total: Some(size),
        })
    }

    /// Maps a request path to a file under the root; folders answer with
    /// their `index.json`. Anything that could escape the root is not found.
    async fn resolve(&self, path: &str) -> Option<PathBuf> {
        let mut out = self.root.clone();
        for raw in path.split('/').filter(|s| !s.is_empty()) {
            let seg = percent_decode_str(raw).decode_utf8().ok()?;
            if seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']) {
                return None;
            }
            out.push(seg.as_ref());
        }
        let meta = tokio::fs::metadata(&out).await.ok()?;
        if meta.is_dir() {
            out.push("index.json");
            tokio::fs::metadata(&out)
                .await
                .ok()?
                .is_file()
                .then_some(out)
        } else {
            meta.is_file().then_some(out)
        }
    }

    /// The strong `ETag`: `"<sha256>"`. A blob is named by its hash; other
    /// files are hashed once and cached until they change.
    async fn etag(&self, file: &Path, size: u64, mtime: Option<SystemTime>) -> io::Result<String> {
        if let Some(hex) = blob_hash(&self.root, file) {
            return Ok(format!("\"{hex}\""));
        }
        let key = (size, mtime);
        if let Some((k, tag)) = self.cache().get(file)
            && *k == key
        {
            return Ok(tag.clone());
        }
        let owned = file.to_owned();
        let digest = tokio::task::spawn_blocking(move || tooldelta_core::hash::hash_file(&owned))
            .await
            .map_err(io::Error::other)??;
        let tag = format!("\"{}\"", digest.sha256);
        self.cache().insert(file.to_owned(), (key, tag.clone()));
        Ok(tag)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (FileKey, String)>> {
        self.etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The hex name of a file under `api/v1/blobs/sha256/`, if it is one.
fn blob_hash(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let parent = rel.parent()?;
    let name = rel.file_name()?.to_str()?;
    (parent == Path::new(tooldelta_core::api::BLOBS)
        && tooldelta_core::manifest::is_sha256_hex(name))
    .then(|| name.to_owned())
}

fn content_type(file: &Path) -> HeaderValue {
    if file.extension().is_some_and(|e| e == "json") {
        HeaderValue::from_static("application/json")
    } else {
        HeaderValue::from_static("application/octet-stream")
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("ASCII header built here")
}
