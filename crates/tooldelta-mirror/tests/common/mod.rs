//! Shared helpers of the mirror's integration tests: published fixture tools,
//! raw HTTP requests and a plain reqwest client.
#![allow(dead_code)] // each test binary uses a different subset

pub mod chunked;
pub mod nginx;
pub mod process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tooldelta_core::publish::{ChunkOptions, PublishOptions, publish};
use tooldelta_core::signing::{TrustStore, public_key_pem};
use tooldelta_mirror::{ImportOptions, ImportReport, Store};

/// Deterministic pseudo-random bytes (xorshift), fast enough for tens of MB.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A hq: a signing key, its public PEM on disk, and a work folder.
pub struct Publisher {
    pub dir: tempfile::TempDir,
    pub key: SigningKey,
    pub public_pem: PathBuf,
}

/// A published tool version: its folder and signed manifest file.
pub struct Published {
    pub tool_dir: PathBuf,
    pub manifest: PathBuf,
    pub manifest_bytes: Vec<u8>,
}

impl Publisher {
    pub fn new(seed: u8) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[seed; 32]);
        let public_pem = dir.path().join("hq.pub.pem");
        std::fs::write(&public_pem, public_key_pem(&key.verifying_key())).unwrap();
        Self {
            dir,
            key,
            public_pem,
        }
    }

    pub fn trust(&self) -> TrustStore {
        let mut trust = TrustStore::new();
        trust.add(self.key.verifying_key());
        trust
    }

    /// Writes `files` into a fresh folder and publishes it signed.
    pub fn publish(&self, tool_id: &str, version: &str, files: &[(&str, &[u8])]) -> Published {
        self.publish_chunked(tool_id, version, files, None)
    }

    /// Like `publish`; files of at least `threshold` bytes get a chunk index,
    /// written to `chunks/` beside the manifest (where `import` looks).
    pub fn publish_chunked(
        &self,
        tool_id: &str,
        version: &str,
        files: &[(&str, &[u8])],
        threshold: Option<u64>,
    ) -> Published {
        let tool_dir = self.dir.path().join(format!("{tool_id}-{version}"));
        for (path, bytes) in files {
            let full = tool_dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, bytes).unwrap();
        }
        let opts = PublishOptions {
            tool_dir: tool_dir.clone(),
            tool_id: tool_id.into(),
            version: version.into(),
            base_url: None,
            created_at: None,
            expires_at: None,
            chunks: threshold.map(|threshold| ChunkOptions {
                threshold,
                out_dir: self.chunks_dir(),
                packs: false,
            }),
            release_notes: None,
        };
        let manifest = publish(&opts, &self.key).unwrap();
        let manifest_bytes = manifest.to_pretty_json().into_bytes();
        let path = self
            .dir
            .path()
            .join(format!("{tool_id}-{version}.manifest.json"));
        std::fs::write(&path, &manifest_bytes).unwrap();
        Published {
            tool_dir,
            manifest: path,
            manifest_bytes,
        }
    }

    /// Publishes an existing folder signed, with chunk indexes for files of
    /// at least `threshold` bytes; the manifest and `chunks/` land in this
    /// publisher's folder.
    pub fn publish_dir(
        &self,
        tool_dir: &Path,
        tool_id: &str,
        version: &str,
        threshold: u64,
    ) -> Published {
        let opts = PublishOptions {
            tool_dir: tool_dir.to_owned(),
            tool_id: tool_id.into(),
            version: version.into(),
            base_url: None,
            created_at: None,
            expires_at: None,
            chunks: Some(ChunkOptions {
                threshold,
                out_dir: self.chunks_dir(),
                packs: false,
            }),
            release_notes: None,
        };
        let manifest = publish(&opts, &self.key).unwrap();
        let manifest_bytes = manifest.to_pretty_json().into_bytes();
        let path = self
            .dir
            .path()
            .join(format!("{tool_id}-{version}.manifest.json"));
        std::fs::write(&path, &manifest_bytes).unwrap();
        Published {
            tool_dir: tool_dir.to_owned(),
            manifest: path,
            manifest_bytes,
        }
    }

    /// Where `publish_chunked` writes index objects.
    pub fn chunks_dir(&self) -> PathBuf {
        self.dir.path().join("chunks")
    }

    /// Publishes and imports into `store` with this hq's key trusted.
    pub fn publish_into(
        &self,
        store: &Store,
        tool_id: &str,
        version: &str,
        files: &[(&str, &[u8])],
    ) -> (Published, ImportReport) {
        let published = self.publish(tool_id, version, files);
        let opts = ImportOptions {
            trust: self.trust(),
            replace: false,
            chunks_dir: None,
        };
        let report = store
            .import_file(&published.manifest, &published.tool_dir, &opts)
            .unwrap();
        (published, report)
    }
}

/// A demo store: tool `demo` 1.0.0 and 1.2.0 (a 1 MiB model, a script, a
/// config whose name has a space), and tool `other` 0.1.0.
pub struct Demo {
    pub hq: Publisher,
    pub store_dir: tempfile::TempDir,
    pub store: Store,
    pub model: Vec<u8>,
    pub v1: Published,
    pub v2: Published,
}

pub const SCRIPT_V1: &[u8] = b"#!/bin/sh\necho one\n";
pub const SCRIPT_V2: &[u8] = b"#!/bin/sh\necho two\n";

impl Demo {
    pub fn new() -> Self {
        let hq = Publisher::new(7);
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::open(store_dir.path()).unwrap();
        let model = noise(1, 1 << 20);
        let (v1, _) = hq.publish_into(
            &store,
            "demo",
            "1.0.0",
            &[
                ("models/model.gguf", &model),
                ("run.sh", SCRIPT_V1),
                ("conf/a b.toml", b"x = 1\n"),
            ],
        );
        let (v2, _) = hq.publish_into(
            &store,
            "demo",
            "1.2.0",
            &[
                ("models/model.gguf", &model),
                ("run.sh", SCRIPT_V2),
                ("conf/a b.toml", b"x = 2\n"),
            ],
        );
        hq.publish_into(&store, "other", "0.1.0", &[("readme.txt", b"hello\n")]);
        Self {
            hq,
            store_dir,
            store,
            model,
            v1,
            v2,
        }
    }

    pub fn root(&self) -> &Path {
        self.store_dir.path()
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    tooldelta_core::hash::hash_bytes(bytes).sha256
}

/// A plain client (no redirects followed, no compression).
pub fn client() -> reqwest::Client {
    tooldelta_mirror::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Sends `GET {target}` byte for byte (no client-side normalization of `..`
/// or percent-escapes) and reads the response until the server closes.
pub fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    RawResponse {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}
