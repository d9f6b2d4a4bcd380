//! Corporate networks, end to end against real parts: Debian's `tinyproxy`
//! as the forward proxy (plain http, and https through CONNECT), and a
//! mirror whose TLS certificate comes from a private CA made with `openssl`.

mod engine_support;
mod network_support;

use std::process::Command;

use engine_support::real_mirror::RealMirror;
use engine_support::{TOOL, assert_same_tree};
use network_support::{PrivateCa, Tinyproxy, TlsMirror};
use tempfile::TempDir;
use tooldelta_testkit::{CmdOutput, TestKeys, ToolTree, bin_path, run};

struct Site {
    tmp: TempDir,
    keys: TestKeys,
    tree: ToolTree,
}

impl Site {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let tree = ToolTree::new(tmp.path().join("tree"));
        tree.text("README.md", "behind a proxy\n")
            .random("models/m.bin", 3 << 20, 5);
        Self {
            tmp,
            keys: TestKeys::new(),
            tree,
        }
    }

    fn store(&self) -> std::path::PathBuf {
        self.tmp.path().join("store")
    }

    /// `tooldelta update` into a fresh root `name`, with `envs` and no
    /// proxy variable unless given.
    fn update(&self, name: &str, mirror: &str, extra: &[&str], envs: &[(&str, &str)]) -> CmdOutput {
        let root = self.tmp.path().join(name);
        let mut cmd = Command::new(bin_path("tooldelta"));
        cmd.args(["update", TOOL, "--json", "--mirror", mirror, "--root"])
            .arg(&root)
            .arg("--trust")
            .arg(self.keys.public_pem())
            .args(extra);
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "NO_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
            "TOOLDELTA_PROXY",
            "TOOLDELTA_NO_PROXY",
            "TOOLDELTA_CA_CERT",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(envs.iter().copied());
        run(&mut cmd)
    }

    fn assert_installed(&self, name: &str) {
        let current = self
            .tmp
            .path()
            .join(name)
            .join("tools")
            .join(TOOL)
            .join("current");
        assert_same_tree(&current, &self.tree);
    }
}

fn requests_for(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn an_update_through_tinyproxy_is_logged_by_the_proxy_and_no_proxy_bypasses_it() {
    let site = Site::new();
    let mirror = RealMirror::start(&site.store());
    mirror.publish(&site.tree, TOOL, "1.0.0", &site.keys);
    let proxy = Tinyproxy::start(&site.tmp.path().join("proxy"));
    let manifest = format!("{}/api/v1/tools/{TOOL}/latest/manifest.json", mirror.url());

    // From the environment, as most sites configure it.
    site.update("env", &mirror.url(), &[], &[("HTTP_PROXY", &proxy.url())])
        .assert_success();
    site.assert_installed("env");
    let log = proxy.log();
    assert_eq!(requests_for(&log, &format!("GET {manifest}")), 1, "{log}");
    assert!(log.contains("/api/v1/blobs/sha256/"), "{log}");

    // NO_PROXY names the LAN mirror: the proxy sees nothing more.
    let before = proxy.log().lines().count();
    site.update(
        "bypass",
        &mirror.url(),
        &[],
        &[("HTTP_PROXY", &proxy.url()), ("NO_PROXY", "127.0.0.1")],
    )
    .assert_success();
    site.assert_installed("bypass");
    assert_eq!(proxy.log().lines().count(), before, "{}", proxy.log());

    // The `proxy` setting, with no variable at all.
    site.update("setting", &mirror.url(), &["--proxy", &proxy.url()], &[])
        .assert_success();
    site.assert_installed("setting");
    assert_eq!(requests_for(&proxy.log(), &format!("GET {manifest}")), 2);
}

#[test]
fn a_private_ca_mirror_works_with_ca_cert_and_fails_clearly_without() {
    let site = Site::new();
    let ca = PrivateCa::new(&site.tmp.path().join("pki"));
    // Loaded through a plain mirror first, then served over TLS.
    RealMirror::start(&site.store()).publish(&site.tree, TOOL, "1.0.0", &site.keys);
    let tls = TlsMirror::start(&site.store(), &ca);

    let out = site.update("refused", &tls.url(), &[], &[]);
    out.assert_failure();
    let line = out.stderr.to_lowercase();
    assert!(
        out.stderr.contains(&tls.url()),
        "names the URL: {}",
        out.stderr
    );
    assert!(
        line.contains("certificate") && line.contains("unknownissuer"),
        "names the certificate problem: {}",
        out.stderr
    );
    assert!(line.contains("ca_cert"), "says what helps: {}", out.stderr);
    assert_eq!(out.json()["error"]["kind"], "certificate", "{}", out.stdout);

    let ca_path = ca.ca().display().to_string();
    site.update("trusted", &tls.url(), &["--ca-cert", &ca_path], &[])
        .assert_success();
    site.assert_installed("trusted");
    // The same from the variable.
    site.update(
        "by-env",
        &tls.url(),
        &[],
        &[("TOOLDELTA_CA_CERT", &ca_path)],
    )
    .assert_success();
    site.assert_installed("by-env");
}

#[test]
fn https_through_tinyproxy_goes_by_connect() {
    let site = Site::new();
    let ca = PrivateCa::new(&site.tmp.path().join("pki"));
    RealMirror::start(&site.store()).publish(&site.tree, TOOL, "1.0.0", &site.keys);
    let tls = TlsMirror::start(&site.store(), &ca);
    let proxy = Tinyproxy::start(&site.tmp.path().join("proxy"));
    let ca_path = ca.ca().display().to_string();
    site.update(
        "connect",
        &tls.url(),
        &["--ca-cert", &ca_path],
        &[("HTTPS_PROXY", &proxy.url())],
    )
    .assert_success();
    site.assert_installed("connect");
    let log = proxy.log();
    assert!(
        requests_for(&log, &format!("CONNECT 127.0.0.1:{}", tls.port)) >= 1,
        "{log}"
    );
}

#[test]
fn a_ca_cert_file_that_is_not_pem_is_refused_naming_it() {
    let site = Site::new();
    let bad = site.tmp.path().join("not-a-ca.pem");
    std::fs::write(&bad, "hello\n").unwrap();
    let out = site.update(
        "bad-ca",
        "https://127.0.0.1:9",
        &["--ca-cert", &bad.display().to_string()],
        &[],
    );
    out.assert_failure();
    assert!(
        out.stderr.contains(&bad.display().to_string()),
        "{}",
        out.stderr
    );
}
