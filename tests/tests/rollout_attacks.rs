//! Attacks on the rollout control (issue 14, item 8), each against the real
//! `tooldelta` and `tooldelta-mirror` on 127.0.0.1: the hostile mirror
//! rewrites what it serves. Each must be refused with an error naming the
//! tool and the cause, and leave `current/` on the version it was on.

mod rollout_support;

use std::path::{Path, PathBuf};

use rollout_support::{Fleet, TOOL, active, tooldelta_str};
use serde_json::{Value, json};
use tooldelta_core::channel::ChannelDocument;
use tooldelta_core::signing::{SIGNATURE_CONTEXT, sign_hash};
use tooldelta_testkit::TestKeys;

/// A fleet with 1.1.0 and 1.2.0 published, channel `stable` at 1.1.0
/// (sequence 10), and one workstation that accepted it and runs 1.1.0.
fn accepted() -> (Fleet, PathBuf) {
    let fleet = Fleet::new();
    fleet.publish(TOOL, "1.1.0", None);
    fleet.publish(TOOL, "1.2.0", None);
    fleet.set_channel(
        "base",
        &[
            "--tool",
            TOOL,
            "--channel",
            "stable",
            "--version",
            "1.1.0",
            "--sequence",
            "10",
        ],
    );
    let root = fleet.path("root");
    fleet.update(&root, "ws-1", &[]).assert_success();
    assert_eq!(active(&root, TOOL).as_deref(), Some("1.1.0"));
    (fleet, root)
}

/// What the hostile mirror now serves for the tool's `stable` channel.
fn serve(fleet: &Fleet, bytes: &[u8]) {
    std::fs::write(fleet.served_channel(TOOL, "stable"), bytes).unwrap();
}

/// A signed 1.2.0-at-100% document with `sequence`, as `channel set` writes it.
fn offer_120(fleet: &Fleet, name: &str, sequence: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec![
        "--tool",
        TOOL,
        "--channel",
        "stable",
        "--version",
        "1.2.0",
        "--sequence",
        sequence,
    ];
    args.extend_from_slice(extra);
    std::fs::read(fleet.channel_file(name, &args)).unwrap()
}

/// Sleeps until a channel document's `expires_at` has passed.
fn sleep_past_expiry(file: &Path) {
    let doc: ChannelDocument = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let expires: jiff::Timestamp = doc.expires_at.unwrap().parse().unwrap();
    let left = expires.duration_since(jiff::Timestamp::now());
    if let Ok(left) = std::time::Duration::try_from(left) {
        std::thread::sleep(left + std::time::Duration::from_millis(100));
    }
}

fn assert_refused(fleet: &Fleet, root: &Path, extra: &[&str], needles: &[&str]) {
    let out = fleet.update(root, "ws-1", extra);
    out.assert_failure();
    let error: Value = serde_json::from_str(out.stdout.trim()).unwrap_or(Value::Null);
    let message = format!("{} {}", out.stderr, error);
    assert!(
        message.contains(TOOL),
        "the error does not name the tool: {message}"
    );
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in: {message}");
    }
    assert_eq!(
        active(root, TOOL).as_deref(),
        Some("1.1.0"),
        "current/ moved"
    );
}

#[test]
fn a_tampered_channel_document_is_refused() {
    let (fleet, root) = accepted();
    let signed = String::from_utf8(offer_120(&fleet, "t", "11", &["--rollout", "1"])).unwrap();
    let tampered = signed.replace("\"rollout_percent\": 1,", "\"rollout_percent\": 100,");
    assert_ne!(signed, tampered);
    serve(&fleet, tampered.as_bytes());
    assert_refused(&fleet, &root, &[], &["channel stable", "invalid"]);
}

#[test]
fn unsigned_and_unknown_key_documents_are_refused() {
    let (fleet, root) = accepted();
    let mut doc: ChannelDocument =
        serde_json::from_slice(&offer_120(&fleet, "u", "11", &[])).unwrap();
    doc.signature = None;
    serve(&fleet, doc.to_pretty_json().as_bytes());
    assert_refused(&fleet, &root, &[], &["missing"]);
    doc.sign(TestKeys::other().signing_key());
    serve(&fleet, doc.to_pretty_json().as_bytes());
    assert_refused(&fleet, &root, &[], &["not trusted"]);
}

#[test]
fn a_manifest_signature_presented_as_a_channel_signature_is_refused() {
    let (fleet, root) = accepted();
    let mut doc: ChannelDocument =
        serde_json::from_slice(&offer_120(&fleet, "m", "11", &[])).unwrap();
    // HQ's real key, over the document's own hash, but under the manifest prefix.
    doc.signature = Some(sign_hash(
        SIGNATURE_CONTEXT,
        &doc.hash(),
        fleet.keys.signing_key(),
    ));
    serve(&fleet, doc.to_pretty_json().as_bytes());
    assert_refused(&fleet, &root, &[], &["invalid"]);
}

#[test]
fn replay_of_an_older_channel_document_is_refused() {
    let (fleet, root) = accepted();
    // A validly signed document, but older than the accepted sequence 10.
    serve(&fleet, &offer_120(&fleet, "old", "9", &[]));
    assert_refused(&fleet, &root, &[], &["replay", "sequence 9"]);
}

#[test]
fn a_channel_document_for_another_tool_is_refused() {
    let (fleet, root) = accepted();
    let file = fleet.channel_file(
        "other",
        &[
            "--tool",
            "other-tool",
            "--channel",
            "stable",
            "--version",
            "1.2.0",
            "--sequence",
            "50",
        ],
    );
    serve(&fleet, &std::fs::read(file).unwrap());
    assert_refused(&fleet, &root, &[], &["other-tool/stable", "mix-and-match"]);
}

#[test]
fn an_expired_channel_document_is_refused() {
    let (fleet, root) = accepted();
    serve(&fleet, &offer_120(&fleet, "e", "11", &["--expires", "1s"]));
    sleep_past_expiry(&fleet.path("e.channel.json"));
    assert_refused(&fleet, &root, &[], &["expired", "freeze"]);
}

#[test]
fn a_mirror_withholding_the_channel_cannot_outlive_its_expiry() {
    let fleet = Fleet::new();
    fleet.publish(TOOL, "1.1.0", None);
    fleet.publish(TOOL, "1.2.0", None);
    fleet.set_channel(
        "short",
        &[
            "--tool",
            TOOL,
            "--channel",
            "stable",
            "--version",
            "1.1.0",
            "--expires",
            "8s",
        ],
    );
    let root = fleet.path("root");
    fleet.update(&root, "ws-1", &[]).assert_success();
    // The mirror now withholds the channel: the accepted one still rules …
    std::fs::remove_file(fleet.served_channel(TOOL, "stable")).unwrap();
    let report = fleet.update(&root, "ws-1", &[]).assert_success().json();
    assert_eq!(
        report["to_version"], "1.1.0",
        "not `latest` (1.2.0) while withheld"
    );
    // … until it expires: then the client refuses to act on it.
    sleep_past_expiry(&fleet.path("short.channel.json"));
    assert_refused(&fleet, &root, &[], &["expired"]);
}

#[test]
fn a_withdrawn_version_is_never_installed_even_by_name() {
    let (fleet, root) = accepted();
    fleet.set_channel(
        "yank",
        &[
            "--tool",
            TOOL,
            "--channel",
            "stable",
            "--version",
            "1.1.0",
            "--withdraw",
            "1.2.0",
            "--sequence",
            "11",
        ],
    );
    assert_refused(&fleet, &root, &["--version", "1.2.0"], &["withdrawn"]);
    // Still withdrawn when the mirror stops serving the channel (the accepted one rules).
    std::fs::remove_file(fleet.served_channel(TOOL, "stable")).unwrap();
    assert_refused(&fleet, &root, &["--version", "1.2.0"], &["withdrawn"]);
}

#[test]
fn the_mirror_refuses_to_import_an_older_or_unsigned_channel() {
    let (fleet, _root) = accepted();
    let older = fleet.channel_file(
        "older",
        &[
            "--tool",
            TOOL,
            "--channel",
            "stable",
            "--version",
            "1.2.0",
            "--sequence",
            "3",
        ],
    );
    let out = fleet.import_channel(&older);
    out.assert_failure();
    assert!(out.stderr.contains("not newer"), "{}", out.stderr);
    let mut doc: ChannelDocument = serde_json::from_slice(&std::fs::read(&older).unwrap()).unwrap();
    doc.signature = None;
    doc.sequence = 99;
    std::fs::write(&older, doc.to_pretty_json()).unwrap();
    fleet.import_channel(&older).assert_failure();
    // The channel served is still the accepted one.
    let (status, content_type, body) =
        fleet.get(&format!("/api/v1/tools/{TOOL}/channels/stable.json"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served["sequence"], json!(10));
}

#[test]
fn notes_with_control_characters_are_refused_at_publish() {
    let fleet = Fleet::new();
    let tree = fleet.path("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a"), "a").unwrap();
    let notes = fleet.path("notes.txt");
    std::fs::write(&notes, "clear screen \u{1b}[2J").unwrap();
    let key = fleet.keys.secret_pem();
    let out = tooldelta_str(&[
        "publish",
        "--tool-dir",
        tree.to_str().unwrap(),
        "--tool-id",
        TOOL,
        "--version",
        "1.0.0",
        "--key",
        key.to_str().unwrap(),
        "--notes",
        notes.to_str().unwrap(),
    ]);
    out.assert_failure();
    assert!(out.stderr.contains("release-notes"), "{}", out.stderr);
}
