//! HTTP transport: the manifest with a size cap, and content into the local
//! store through `.partial` files that resume with `Range` + `If-Range`.
//!
//! Sources of one file, in order: for each mirror its blob route, then its
//! `files/{path}` route; last, the manifest's own `url`. A source that answers
//! 404 or another client error, or serves bad bytes, is dropped for this file;
//! one that breaks off is resumed at once while it makes progress; connection
//! errors, 5xx and stalls move on to the next source, and whole rounds over
//! the remaining sources are repeated with backoff (`backon`).

mod attempt;
pub mod resume;
pub mod sink;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use tokio_util::sync::CancellationToken;

use crate::diff::PlannedFile;
use crate::engine::EngineConfig;
use crate::error::{FetchClass, FetchError, UpdateError};
use crate::events::{Event, Reporter};
use crate::manifest::MAX_MANIFEST_BYTES;
use crate::store::Store;
use crate::throttle::Progress;

/// Characters a URL path segment may keep as they are (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Attempts that made progress are not limited by `retries`, but by this,
/// so a server that cuts every response still ends.
const MAX_PROGRESSING_ATTEMPTS: u32 = 10_000;

/// The HTTP side of the engine.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// For `http://` URLs: built without loading the system's root
    /// certificates, which costs tens of milliseconds per process.
    plain: reqwest::Client,
    /// For `https://` URLs, built on first use.
    secure: Arc<OnceLock<Result<reqwest::Client, String>>>,
    connect_timeout: Duration,
    mirrors: Vec<Url>,
    stall_timeout: Duration,
    retries: u32,
}

/// A manifest as fetched: the bytes (at most [`MAX_MANIFEST_BYTES`]) and where from.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The raw bytes (not yet verified).
    pub bytes: Vec<u8>,
    /// The URL they came from; relative file URLs resolve against it.
    pub url: Url,
}

/// One content to bring into the store.
#[derive(Debug, Clone)]
pub struct ObjectJob<'a> {
    /// The tool (for messages and events).
    pub tool_id: &'a str,
    /// The file (its first path if several list the content).
    pub file: &'a PlannedFile,
    /// URLs to try, in order.
    pub sources: Vec<String>,
}

/// What fetching one object cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Payload bytes received in this run.
    pub downloaded: u64,
    /// Bytes of a partial from an earlier run that were kept.
    pub resumed: u64,
}

impl Fetcher {
    /// Builds the HTTP client for a configuration.
    pub fn new(config: &EngineConfig) -> Result<Self, UpdateError> {
        // reqwest is built without a default TLS provider (no aws-lc-rs here);
        // an error only means a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain = client_builder(config.connect_timeout)
            .tls_certs_only([])
            .build()
            .map_err(|e| UpdateError::Setup {
                cause: format!("HTTP client: {e}"),
            })?;
        let mirrors = config
            .mirrors
            .iter()
            .map(String::as_str)
            .map(parse_mirror)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            plain,
            secure: Arc::default(),
            connect_timeout: config.connect_timeout,
            mirrors,
            stall_timeout: config.stall_timeout,
            retries: config.retries,
        })
    }

    /// The client for a URL: the system's trust roots only for `https`.
    pub(crate) fn client_for(&self, url: &str) -> Result<&reqwest::Client, String> {
        if !url.starts_with("https:") {
            return Ok(&self.plain);
        }
        self.secure
            .get_or_init(|| {
                client_builder(self.connect_timeout)
                    .build()
                    .map_err(|e| format!("HTTPS client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether any mirror is configured.
    pub fn has_mirrors(&self) -> bool {
        !self.mirrors.is_empty()
    }

    /// Fetches `{mirror}/api/v1/tools/{id}/{version|latest}/manifest.json`
    /// from the first mirror that serves it, capped at [`MAX_MANIFEST_BYTES`].
    pub async fn manifest(
        &self,
        tool_id: &str,
        version: Option<&str>,
    ) -> Result<FetchedManifest, UpdateError> {
        if self.mirrors.is_empty() {
            return Err(UpdateError::NoMirror {
                tool_id: tool_id.to_owned(),
            });
        }
        let version = version.unwrap_or("latest");
        let rel = format!(
            "api/v1/tools/{}/{}/manifest.json",
            enc(tool_id),
            enc(version)
        );
        let mut last = None;
        let mut delays = self.backoff();
        loop {
            let mut any_transient = false;
            for mirror in &self.mirrors {
                let url = mirror.join(&rel).expect("a relative path joins");
                match self.get_capped(&url).await {
                    Ok(bytes) => return Ok(FetchedManifest { bytes, url }),
                    Err((cause, transient)) => {
                        any_transient |= transient;
                        last = Some((url.to_string(), cause, transient));
                    }
                }
            }
            match delays.next() {
                Some(delay) if any_transient => tokio::time::sleep(delay).await,
                _ => break,
            }
        }
        let (url, cause, retryable) = last.expect("at least one mirror was tried");
        Err(UpdateError::ManifestFetch {
            tool_id: tool_id.to_owned(),
            url,
            cause,
            retryable,
        })
    }

    /// GET with the manifest cap; `Err((cause, transient))`.
    async fn get_capped(&self, url: &Url) -> Result<Vec<u8>, (String, bool)> {
        let client = self.client_for(url.as_str()).map_err(|e| (e, false))?;
        let send = client.get(url.clone()).send();
        let mut resp = match tokio::time::timeout(self.stall_timeout, send).await {
            Err(_) => return Err(("no answer".into(), true)),
            Ok(Err(e)) => return Err((e.to_string(), true)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        if status != 200 {
            return Err((format!("HTTP {status}"), status >= 500));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES)
        {
            return Err((format!("larger than {MAX_MANIFEST_BYTES} bytes"), false));
        }
        let mut bytes = Vec::new();
        loop {
            let chunk = tokio::time::timeout(self.stall_timeout, resp.chunk()).await;
            match chunk {
                Err(_) => return Err(("stalled".into(), true)),
                Ok(Err(e)) => return Err((e.to_string(), true)),
                Ok(Ok(None)) => return Ok(bytes),
                Ok(Ok(Some(c))) => {
                    if (bytes.len() + c.len()) as u64 > MAX_MANIFEST_BYTES {
                        return Err((format!("larger than {MAX_MANIFEST_BYTES} bytes"), false));
                    }
                    bytes.extend_from_slice(&c);
                }
            }
        }
    }

    /// The URLs to try for a file of `tool_id` at `version`, in order.
    pub fn sources(
        &self,
        tool_id: &str,
        version: &str,
        file: &PlannedFile,
        manifest_url: Option<&Url>,
    ) -> Vec<String> {
        let path: Vec<String> = file.path.split('/').map(enc).collect();
        let mut out = Vec::with_capacity(self.mirrors.len() * 2 + 1);
        for mirror in &self.mirrors {
            let blob = format!("api/v1/blobs/sha256/{}", file.sha256);
            let by_path = format!(
                "api/v1/tools/{}/{}/files/{}",
                enc(tool_id),
                enc(version),
                path.join("/")
            );
            for rel in [blob, by_path] {
                out.push(
                    mirror
                        .join(&rel)
                        .expect("a relative path joins")
                        .to_string(),
                );
            }
        }
        let fallback = file.url.as_deref().and_then(|u| match manifest_url {
            Some(base) => base.join(u).ok(),
            None => Url::parse(u).ok(),
        });
        if let Some(url) = fallback.filter(|u| matches!(u.scheme(), "http" | "https")) {
            let url = url.to_string();
            if !out.contains(&url) {
                out.push(url);
            }
        }
        out
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_max_times(self.retries as usize)
            .with_jitter()
            .build()
    }

    /// Brings one content into the store, trying its sources in order and
    /// resuming its `.partial`. Emits `file_started`, `file_failed` and
    /// progress; the caller emits `file_verified`.
    pub async fn fetch_object(
        &self,
        store: &Store,
        job: &ObjectJob<'_>,
        progress: &Progress,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        // The store is shared by every tool under the root, and updaters of
        // different tools run at once: one content is fetched by one of them
        // at a time (they would write the same `.partial`, and one's persist
        // would pull it from under the other).
        let lock_path = store.fetch_lock_path(&job.file.sha256);
        let lock = lock_object(&lock_path, cancel).await?;
        if store.contains(&job.file.sha256, job.file.size) {
            // Brought in by the updater we waited for.
            return Ok(Fetched::default());
        }
        let fetched = self
            .fetch_object_locked(store, job, progress, reporter, cancel)
            .await;
        if fetched.is_ok() {
            // Safe to unlink while held: whoever locks this name (or the old
            // inode) next finds the object stored and stops there.
            let _ = std::fs::remove_file(&lock_path);
        }
        drop(lock);
        fetched
    }

    async fn fetch_object_locked(
        &self,
        store: &Store,
        job: &ObjectJob<'_>,
        progress: &Progress,
        reporter: &dyn Reporter,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        let mut run = attempt::ObjectRun::new(self, store, job, progress, reporter, cancel);
        let initial = run.start();
        reporter.report(&Event::FileStarted {
            tool_id: job.tool_id.to_owned(),
            path: job.file.path.clone(),
            size: job.file.size,
            resume_from: initial,
        });
        let mut dead = vec![false; job.sources.len()];
        let mut failures: Vec<FetchError> = Vec::new();
        let mut delays = self.backoff();
        let mut progressing = 0;
        loop {
            for (i, url) in job.sources.iter().enumerate() {
                while !dead[i] {
                    let before = run.on_disk();
                    let err = match run.attempt(url).await {
                        Ok(()) => return Ok(run.fetched()),
                        Err(e) => e,
                    };
                    let class = err.class();
                    let made_progress = run.on_disk() > before;
                    // A stall moves on even after progress: a source that
                    // trickles a few bytes between stalls would otherwise
                    // hold the update for MAX_PROGRESSING_ATTEMPTS stall
                    // timeouts (slow-retrieval attack); stalls spend the
                    // `retries` rounds instead.
                    let again = class == FetchClass::Retry
                        && made_progress
                        && !matches!(err, FetchError::Stalled { .. })
                        && progressing < MAX_PROGRESSING_ATTEMPTS;
                    report_failure(job, &err, class != FetchClass::Fatal, reporter);
                    match class {
                        FetchClass::Fatal => return Err(err),
                        FetchClass::Integrity => dead[i] = true,
                        FetchClass::NextSource if !err.is_transient() => dead[i] = true,
                        _ => {}
                    }
                    failures.push(err);
                    if !again {
                        break;
                    }
                    progressing += 1;
                }
            }
            if dead.iter().all(|d| *d) {
                break;
            }
            let Some(delay) = delays.next() else { break };
            tokio::select! {
                () = cancel.cancelled() => return Err(FetchError::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
        }
        Err(most_telling(failures))
    }
}

/// Waits (cancellably) for the per-object fetch lock.
async fn lock_object(
    path: &std::path::Path,
    cancel: &CancellationToken,
) -> Result<crate::lock::FileLock, FetchError> {
    loop {
        match crate::lock::FileLock::try_exclusive(path) {
            Ok(Some(lock)) => return Ok(lock),
            Ok(None) => {
                tokio::select! {
                    () = cancel.cancelled() => return Err(FetchError::Cancelled),
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
            Err(source) => {
                return Err(FetchError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
}

fn report_failure(
    job: &ObjectJob<'_>,
    err: &FetchError,
    will_retry: bool,
    reporter: &dyn Reporter,
) {
    let error = UpdateError::Fetch {
        tool_id: job.tool_id.to_owned(),
        path: job.file.path.clone(),
        source: Box::new(clone_error(err)),
    };
    reporter.report(&Event::FileFailed {
        tool_id: job.tool_id.to_owned(),
        path: job.file.path.clone(),
        error: error.info(),
        will_retry,
    });
}

/// An integrity failure says more than the network errors around it.
fn most_telling(mut failures: Vec<FetchError>) -> FetchError {
    if let Some(i) = failures
        .iter()
        .position(|e| e.class() == FetchClass::Integrity)
    {
        return failures.swap_remove(i);
    }
    failures.pop().unwrap_or(FetchError::Connect {
        url: String::new(),
        cause: "no source to fetch from".into(),
    })
}

/// `FetchError` holds an `io::Error`, which is not `Clone`; events need a copy.
fn clone_error(err: &FetchError) -> FetchError {
    match err {
        FetchError::Io { path, source } => FetchError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        FetchError::Connect { url, cause } => FetchError::Connect {
            url: url.clone(),
            cause: cause.clone(),
        },
        FetchError::Status { url, status } => FetchError::Status {
            url: url.clone(),
            status: *status,
        },
        FetchError::Body {
            url,
            received,
            cause,
        } => FetchError::Body {
            url: url.clone(),
            received: *received,
            cause: cause.clone(),
        },
        FetchError::Stalled {
            url,
            secs,
            received,
        } => FetchError::Stalled {
            url: url.clone(),
            secs: *secs,
            received: *received,
        },
        FetchError::Integrity {
            url,
            expected_sha256,
            actual_sha256,
            expected_size,
            actual_size,
        } => FetchError::Integrity {
            url: url.clone(),
            expected_sha256: expected_sha256.clone(),
            actual_sha256: actual_sha256.clone(),
            expected_size: *expected_size,
            actual_size: *actual_size,
        },
        FetchError::TooLong { url, limit } => FetchError::TooLong {
            url: url.clone(),
            limit: *limit,
        },
        FetchError::Cancelled => FetchError::Cancelled,
    }
}

fn client_builder(connect_timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .user_agent(concat!("tooldelta/", env!("CARGO_PKG_VERSION")))
}

fn enc(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// A mirror base URL, with a trailing slash so relative joins keep its path.
fn parse_mirror(text: &str) -> Result<Url, UpdateError> {
    let with_slash = if text.ends_with('/') {
        text.to_owned()
    } else {
        format!("{text}/")
    };
    let url = Url::parse(&with_slash).map_err(|e| UpdateError::Setup {
        cause: format!("mirror URL {text:?}: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UpdateError::Setup {
            cause: format!("mirror URL {text:?}: only http and https are supported"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(mirrors: &[&str]) -> Fetcher {
        let mut config = EngineConfig::new("/nonexistent");
        config.mirrors = mirrors.iter().map(|m| (*m).to_owned()).collect();
        Fetcher::new(&config).unwrap()
    }

    #[test]
    fn sources_are_blob_then_path_per_mirror_then_the_manifest_url() {
        let f = fetcher(&["http://a:1", "http://b:2/base/"]);
        let file = PlannedFile {
            path: "models/m 1.gguf".into(),
            sha256: "ab".repeat(32),
            size: 1,
            url: Some("../files/x".into()),
        };
        let manifest_url = Url::parse("http://hq/api/v1/tools/t/1.0.0/manifest.json").unwrap();
        let got = f.sources("t", "1.0.0", &file, Some(&manifest_url));
        let blob = "ab".repeat(32);
        assert_eq!(
            got,
            [
                format!("http://a:1/api/v1/blobs/sha256/{blob}"),
                "http://a:1/api/v1/tools/t/1.0.0/files/models/m%201.gguf".to_owned(),
                format!("http://b:2/base/api/v1/blobs/sha256/{blob}"),
                "http://b:2/base/api/v1/tools/t/1.0.0/files/models/m%201.gguf".to_owned(),
                "http://hq/api/v1/tools/t/files/x".to_owned(),
            ]
        );
    }

    #[test]
    fn an_integrity_failure_outranks_later_network_errors() {
        let err = most_telling(vec![
            FetchError::Integrity {
                url: "u".into(),
                expected_sha256: "e".into(),
                actual_sha256: "a".into(),
                expected_size: 1,
                actual_size: 1,
            },
            FetchError::Status {
                url: "v".into(),
                status: 404,
            },
        ]);
        assert_eq!(err.class(), FetchClass::Integrity);
    }
}
