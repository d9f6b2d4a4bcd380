//! The publisher's half against independent tools: `sha256sum`, `stat`,
//! OpenSSL and a Python RFC 8785 implementation (issue 2's acceptance).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tooldelta_testkit::{CmdOutput, bin_path, run};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn tooldelta(args: &[&str]) -> CmdOutput {
    run(Command::new(bin_path("tooldelta")).args(args))
}

fn sh(script: &str) -> String {
    let out = run(Command::new("sh").arg("-c").arg(script));
    out.assert_success();
    out.stdout
}

/// A tree with nested folders, an empty file, a name with a space and a 3 MiB file.
fn make_tree(dir: &Path) {
    sh(&format!(
        "set -e; cd {}; mkdir -p src/pkg models 'with space'; echo hi > src/main.py; : > src/pkg/empty; \
         printf 'x=1\\n' > 'with space/a b.toml'; head -c 3145728 /dev/urandom > models/m.gguf",
        dir.display()
    ));
}

fn publish(tree: &Path, key: &Path, out: &Path) {
    tooldelta(&[
        "publish",
        "--tool-dir",
        tree.to_str().unwrap(),
        "--tool-id",
        "script-tool",
        "--version",
        "1.2.3",
        "--key",
        key.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .assert_success();
}

#[test]
fn publish_is_deterministic_and_matches_sha256sum_stat_python_and_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let (tree, secret, public) = (
        tmp.path().join("tree"),
        tmp.path().join("k.pem"),
        tmp.path().join("k.pub"),
    );
    std::fs::create_dir(&tree).unwrap();
    make_tree(&tree);
    // An OpenSSL-made key signs with our code.
    sh(&format!(
        "openssl genpkey -algorithm ed25519 -out {0} && openssl pkey -in {0} -pubout -out {1}",
        secret.display(),
        public.display()
    ));
    let (a, b) = (tmp.path().join("a.json"), tmp.path().join("b.json"));
    publish(&tree, &secret, &a);
    publish(&tree, &secret, &b);
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&b).unwrap(),
        "two publishes of one tree differ"
    );

    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    for f in files {
        let path = tree.join(f["path"].as_str().unwrap());
        let sum = sh(&format!("sha256sum '{}'", path.display()));
        assert_eq!(
            sum.split_whitespace().next().unwrap(),
            f["sha256"].as_str().unwrap(),
            "{path:?}"
        );
        let size = sh(&format!("stat -c %s '{}'", path.display()));
        assert_eq!(
            size.trim().parse::<u64>().unwrap(),
            f["size"].as_u64().unwrap(),
            "{path:?}"
        );
    }

    // manifest_hash by an independent RFC 8785 implementation, then the
    // signature checked by OpenSSL over the domain-separated message.
    let msg = tmp.path().join("msg");
    let sig = tmp.path().join("sig");
    sh(&format!(
        "python3 - '{a}' '{msg}' '{sig}' <<'PY'\n\
import json, hashlib, base64, sys\n\
m = json.load(open(sys.argv[1]))\n\
body = {{k: v for k, v in m.items() if k not in ('manifest_hash', 'signature')}}\n\
h = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()).hexdigest()\n\
assert h == m['manifest_hash'], (h, m['manifest_hash'])\n\
open(sys.argv[2], 'wb').write(b'tooldelta-manifest-v1:' + h.encode())\n\
open(sys.argv[3], 'wb').write(base64.b64decode(m['signature']['signature']))\n\
PY",
        a = a.display(),
        msg = msg.display(),
        sig = sig.display()
    ));
    let verified = sh(&format!(
        "openssl pkeyutl -verify -pubin -inkey {} -rawin -in {} -sigfile {}",
        public.display(),
        msg.display(),
        sig.display()
    ));
    assert!(
        verified.contains("Signature Verified Successfully"),
        "{verified}"
    );
}

#[test]
fn keygen_keys_are_read_by_openssl_and_its_signatures_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let (secret, public) = (tmp.path().join("s.pem"), tmp.path().join("p.pem"));
    let out = tooldelta(&[
        "keygen",
        "--secret",
        secret.to_str().unwrap(),
        "--public",
        public.to_str().unwrap(),
    ]);
    out.assert_success();
    let key_id = out.stdout.trim().to_owned();
    // OpenSSL reads both files, and derives the same public key from the secret one.
    let derived = sh(&format!("openssl pkey -in {} -pubout", secret.display()));
    assert_eq!(derived, std::fs::read_to_string(&public).unwrap());
    // The key id is SHA-256 of the raw key (the last 32 bytes of the SPKI DER).
    let raw_id = sh(&format!(
        "openssl pkey -pubin -in {} -outform DER | tail -c 32 | sha256sum | cut -c1-16",
        public.display()
    ));
    assert_eq!(raw_id.trim(), key_id);
    // Refuses to overwrite a key by accident.
    tooldelta(&[
        "keygen",
        "--secret",
        secret.to_str().unwrap(),
        "--public",
        public.to_str().unwrap(),
    ])
    .assert_failure();
    let mode = sh(&format!("stat -c %a {}", secret.display()));
    assert_eq!(mode.trim(), "600");
}

fn inspect(manifest: &Path, trust: &[&Path]) -> CmdOutput {
    let mut args = vec![
        "inspect".to_owned(),
        manifest.to_str().unwrap().to_owned(),
        "--json".to_owned(),
    ];
    for t in trust {
        args.extend(["--trust".to_owned(), t.to_str().unwrap().to_owned()]);
    }
    run(Command::new(bin_path("tooldelta")).args(&args))
}

#[test]
fn inspect_reports_valid_unknown_key_and_unsigned() {
    let keys = fixtures().join("keys");
    let valid = fixtures().join("valid-demo-tool-1.0.0.json");
    let trusted = keys.join("test-only.public.pem");
    let foreign = keys.join("foreign-test-only.public.pem");
    let status = |out: &CmdOutput| {
        out.json()["signature"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let out = inspect(&valid, &[&trusted]);
    out.assert_success();
    assert_eq!(status(&out), "valid");
    let report = out.json();
    assert_eq!(report["manifest_hash_valid"], true);
    assert_eq!(report["tool_id"], "demo-tool");
    assert_eq!(report["file_count"], 5);

    let out = inspect(&valid, &[&foreign]);
    out.assert_success();
    assert_eq!(status(&out), "unknown_key");
    // Several trusted keys: the right one among them still verifies.
    assert_eq!(status(&inspect(&valid, &[&foreign, &trusted])), "valid");

    let seed = fixtures().join("seed/CHECKPOINT_MANIFEST_EXAMPLE.json");
    let out = inspect(&seed, &[&trusted]);
    out.assert_success();
    assert_eq!(status(&out), "unsigned");
    assert_eq!(out.json()["tool_id"], "z-image-turbo");
    assert_eq!(out.json()["manifest_hash_valid"], false);
}

#[test]
fn inspect_refuses_every_hostile_manifest_naming_the_rule() {
    let trusted = fixtures().join("keys/test-only.public.pem");
    let cases = [
        ("path-dotdot", "path-dotdot"),
        ("path-dotdot-inner", "path-dotdot"),
        ("path-absolute", "path-absolute"),
        ("path-backslash", "path-backslash"),
        ("path-drive-letter", "path-drive-letter"),
        ("path-empty-component", "path-empty-component"),
        ("path-dot", "path-dot"),
        ("path-empty", "path-empty"),
        ("path-nul", "path-control-char"),
        ("path-control-char", "path-control-char"),
        ("path-windows-reserved", "path-windows-reserved"),
        ("path-case-collision", "path-case-collision"),
        ("path-unicode-collision", "path-case-collision"),
        ("path-duplicate", "path-duplicate"),
        ("bad-sha256", "bad-sha256"),
        ("unsorted", "unsorted"),
    ];
    for (name, rule) in cases {
        let out = inspect(
            &fixtures().join(format!("hostile/{name}.json")),
            &[&trusted],
        );
        assert_eq!(
            out.code,
            Some(1),
            "{name} was not refused:\n{}\n{}",
            out.stdout,
            out.stderr
        );
        assert_eq!(out.json()["error"]["rule"], rule, "{name}");
        assert!(
            out.stderr.contains(rule),
            "{name}: the error does not name the rule: {}",
            out.stderr
        );
    }
    let out = inspect(&fixtures().join("hostile/duplicate-key.json"), &[&trusted]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("duplicate key"), "{}", out.stderr);

    let out = inspect(&fixtures().join("hostile/tampered.json"), &[&trusted]);
    assert_eq!(out.code, Some(1), "a tampered manifest must fail");
    assert_eq!(out.json()["signature"]["status"], "invalid");
    assert_eq!(out.json()["manifest_hash_valid"], false);
}
