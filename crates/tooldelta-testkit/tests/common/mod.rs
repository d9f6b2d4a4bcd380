//! Shared set-up for the testkit's own tests.

#![allow(dead_code)]

use tooldelta_testkit::{FaultServer, PseudoRandom, StaticMirror, ToolTree};

/// Size of the test blob: several read chunks, and large enough to throttle.
pub const SIZE: usize = 200_000;

/// A folder with one blob of `SIZE` pseudo-random bytes, served.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: FaultServer,
    pub data: Vec<u8>,
    pub sha: String,
    pub route: String,
    pub client: reqwest::Client,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = PseudoRandom::bytes(9, SIZE);
        let sha = tooldelta_core::hash::hash_bytes(&data).sha256;
        let tree = ToolTree::new(dir.path());
        tree.bytes(&format!("api/v1/blobs/sha256/{sha}"), &data)
            .text("api/v1/tools/demo/index.json", "{\"tool_id\":\"demo\"}");
        let server = FaultServer::serve_dir(dir.path());
        Self {
            route: StaticMirror::blob_route(&sha),
            dir,
            server,
            data,
            sha,
            client: client(),
        }
    }

    pub fn url(&self) -> String {
        format!("{}{}", self.server.url(), self.route)
    }

    pub async fn get(&self, range: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url());
        if let Some(r) = range {
            req = req.header("range", r);
        }
        req.send().await.unwrap()
    }
}

pub fn client() -> reqwest::Client {
    tooldelta_testkit::install_crypto_provider();
    reqwest::Client::builder().build().unwrap()
}

pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Reads a body chunk by chunk; returns the bytes, the chunk count and the
/// error that ended it, if any.
pub async fn read_body(mut resp: reqwest::Response) -> (Vec<u8>, usize, Option<reqwest::Error>) {
    let mut out = Vec::new();
    let mut chunks = 0;
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                chunks += 1;
                out.extend_from_slice(&c);
            }
            Ok(None) => return (out, chunks, None),
            Err(e) => return (out, chunks, Some(e)),
        }
    }
}

/// Compares bodies without printing megabytes: length and first difference.
#[track_caller]
pub fn assert_bytes(actual: &[u8], expected: &[u8]) {
    let first_diff = actual.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        actual.len() == expected.len() && first_diff.is_none(),
        "bodies differ: {} bytes vs {} expected, first difference at {first_diff:?}",
        actual.len(),
        expected.len()
    );
}
