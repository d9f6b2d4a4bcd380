//! A workstation with thirty tools from a real mirror, as issue 20 describes
//! it: most up to date (some with update history, so bytes were saved), a few
//! with an update pending, one whose offer is signed by a key the workstation
//! does not trust (failed), one to be modified on disk by the test.

use std::path::{Path, PathBuf};

use tooldelta_core::engine::{CancellationToken, Engine, EngineConfig, UpdateOptions};
use tooldelta_core::events::NullReporter;
use tooldelta_core::signing::TrustStore;

use crate::fixture::{publish, repo, serve};
use crate::procs::Proc;

/// Thirty ids as AI workstations carry them; some long enough to be cut.
pub const TOOLS: [&str; 30] = [
    "llama-3.1-8b-instruct-q4_k_m",
    "meta-llama-3.1-70b-instruct-q4_k_m-gguf",
    "mistral-7b-instruct-v0.3",
    "mixtral-8x7b-instruct-v0.1-q5_k_m",
    "qwen2.5-coder-32b-instruct",
    "phi-3.5-mini-instruct",
    "gemma-2-27b-it",
    "deepseek-r1-distill-qwen-14b",
    "whisper-large-v3-turbo-ct2-int8",
    "faster-whisper-medium",
    "piper-tts-en-us-lessac",
    "bark-small",
    "stable-diffusion-xl-base-1.0-refiner-fp16",
    "sd-turbo",
    "controlnet-canny-sdxl",
    "esrgan-x4plus",
    "llama.cpp",
    "ollama-runtime",
    "vllm-0.6-cuda12",
    "onnxruntime-gpu",
    "tensorrt-llm",
    "cuda-toolkit-12.4-runtime",
    "gguf-converter",
    "safetensors-tools",
    "hf-transfer",
    "tokenizers-cli",
    "sentence-transformers-all-minilm",
    "bge-m3-embeddings",
    "nomic-embed-text-v1.5",
    "clip-vit-l-14",
];
/// Installed at 1.0.0 while the mirror offers 1.1.0.
pub const PENDING: [&str; 4] = [
    "llama.cpp",
    "mistral-7b-instruct-v0.3",
    "sd-turbo",
    "whisper-large-v3-turbo-ct2-int8",
];
/// The mirror's 1.1.0 is signed by a key this workstation does not trust.
pub const FAILED: &str = "ollama-runtime";
/// The test changes a file of this one while the app watches.
pub const MODIFIED: &str = "qwen2.5-coder-32b-instruct";
/// Updated before the app starts (1.0.0 → 1.1.0, the first two on to 1.2.0):
/// their history records what the deltas saved.
const UPDATED: [&str; 6] = [
    "gemma-2-27b-it",
    "bark-small",
    "meta-llama-3.1-70b-instruct-q4_k_m-gguf",
    "vllm-0.6-cuda12",
    "hf-transfer",
    "clip-vit-l-14",
];
/// Each tool's weights, the same in every version: what a delta saves.
const WEIGHTS_BYTES: usize = 96 * 1024;

pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub trust: PathBuf,
    pub mirror_url: String,
    /// Bytes saved by the latest update of each tool, summed (from the reports).
    pub saved_last: u64,
    /// Bytes saved by every update, summed (from the reports).
    pub saved_total: u64,
    _mirror: Proc,
}

impl Fleet {
    pub async fn new() -> Fleet {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path();
        let store = work.join("store");
        let keys = repo().join("fixtures/keys");
        let (trust, secret) = (
            keys.join("test-only.public.pem"),
            keys.join("test-only.secret.pem"),
        );
        for tool in TOOLS {
            for version in versions_of(tool) {
                let tree = tree(work, tool, version);
                if tool == FAILED && version == "1.1.0" {
                    let (pubkey, key) = (
                        keys.join("foreign-test-only.public.pem"),
                        keys.join("foreign-test-only.secret.pem"),
                    );
                    publish(work, &store, tool, version, &tree, &key, &pubkey);
                } else {
                    publish(work, &store, tool, version, &tree, &secret, &trust);
                }
            }
        }
        let (mirror, port) = serve(&store, work);
        let mut fleet = Fleet {
            root: work.join("root"),
            trust,
            mirror_url: format!("http://127.0.0.1:{port}"),
            saved_last: 0,
            saved_total: 0,
            dir,
            _mirror: mirror,
        };
        fleet.install().await;
        fleet
    }

    /// Installs every tool at 1.0.0, then updates the `UPDATED` ones.
    async fn install(&mut self) {
        let engine = self.engine();
        for tool in TOOLS {
            let mut last = 0;
            let steps = versions_of(tool);
            let installed = if UPDATED.contains(&tool) {
                &steps[..]
            } else {
                &steps[..1]
            };
            for version in installed {
                let opts = UpdateOptions {
                    version: Some((*version).to_owned()),
                    ..UpdateOptions::default()
                };
                let report = engine
                    .update(tool, &opts, &NullReporter, &CancellationToken::new())
                    .await
                    .unwrap_or_else(|e| panic!("install {tool} {version}: {e}"));
                last = report.bytes_saved;
                self.saved_total += report.bytes_saved;
            }
            self.saved_last += last;
        }
    }

    pub fn engine(&self) -> Engine {
        let mut config = EngineConfig::new(&self.root);
        config.mirrors = vec![self.mirror_url.clone()];
        config.trust = TrustStore::from_pem_files(&[&self.trust]).expect("trust");
        Engine::new(config).expect("engine")
    }

    /// What the pending updates would download, as the engine plans them.
    pub async fn bytes_to_download(&self) -> u64 {
        let engine = self.engine();
        let mut total = 0;
        for tool in PENDING {
            let check = engine
                .check(tool, &UpdateOptions::default())
                .await
                .expect("check");
            assert!(!check.up_to_date, "{tool} should have an update pending");
            total += check.delta.bytes_to_fetch;
        }
        total
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TOOLDELTA_ROOT", self.root.display().to_string()),
            ("TOOLDELTA_MIRROR", self.mirror_url.clone()),
            ("TOOLDELTA_TRUST", self.trust.display().to_string()),
            (
                "TOOLDELTA_CONFIG",
                self.dir.path().join("config.toml").display().to_string(),
            ),
            ("HOME", self.dir.path().join("home").display().to_string()),
        ]
    }

    /// Appends a line to an installed file of `tool` (the watcher's business).
    pub fn tamper(&self, tool: &str) {
        let file = self
            .root
            .join("tools")
            .join(tool)
            .join("current/bin/run.sh");
        let mut perms = std::fs::metadata(&file).expect("installed").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&file, perms).expect("chmod");
        let mut text = std::fs::read(&file).expect("read");
        text.extend_from_slice(b"echo tampered\n");
        std::fs::write(&file, text).expect("append");
    }
}

/// The versions the mirror holds for `tool`, oldest first.
fn versions_of(tool: &str) -> Vec<&'static str> {
    if UPDATED[..2].contains(&tool) {
        vec!["1.0.0", "1.1.0", "1.2.0"]
    } else if UPDATED.contains(&tool) || PENDING.contains(&tool) || tool == FAILED {
        vec!["1.0.0", "1.1.0"]
    } else {
        vec!["1.0.0"]
    }
}

/// A small release tree: a launcher and a README that change with the
/// version, weights that do not, and from 1.1.0 on a new adapter file.
fn tree(work: &Path, tool: &str, version: &str) -> PathBuf {
    let dir = work.join("trees").join(tool).join(version);
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    std::fs::create_dir_all(dir.join("models")).expect("mkdir");
    std::fs::write(
        dir.join("bin/run.sh"),
        format!("#!/bin/sh\necho {tool} {version}\n"),
    )
    .expect("run.sh");
    std::fs::write(dir.join("README.md"), format!("# {tool} {version}\n")).expect("readme");
    std::fs::write(dir.join("models/weights.bin"), noise(tool, WEIGHTS_BYTES)).expect("weights");
    if version != "1.0.0" {
        let adapter = noise(&format!("{tool}-{version}"), 8 * 1024 + tool.len() * 512);
        std::fs::write(dir.join("models/adapter.bin"), adapter).expect("adapter");
    }
    dir
}

/// Deterministic bytes, different for every `seed` (no two tools share content).
fn noise(seed: &str, len: usize) -> Vec<u8> {
    // FNV-1a of the seed, then xorshift64.
    let mut x = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}
