//! Attacks through the manifest, from a hostile static mirror (TUF's attack
//! list): tampering, unknown key, unsigned, duplicated keys and signatures,
//! rollback replay, freeze (expired), mix-and-match, and a huge manifest.
//!
//! Each is run by the real `tooldelta update` against a root that has the old
//! release active. Each must be refused with an error naming the cause, leave
//! `current/` exactly as it was (and verifying), and write nothing outside
//! the root.

mod fault_support;

use std::path::{Path, PathBuf};

use fault_support::{
    NEW, OLD, TOOL, World, assert_active, assert_refused, assert_same, leftovers, record_figures,
    snapshot,
};
use serde_json::json;
use tooldelta_core::publish::PublishOptions;
use tooldelta_testkit::{Fault, FaultServer, Rule, StaticMirror, TestKeys};

/// A world with the old release installed in `work/root`, and the server.
fn installed() -> (World, FaultServer, PathBuf) {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    (world, server, root)
}

/// Runs the update against the hostile mirror and checks the refusal:
/// error mentions `needles`, `current/` is still `active`, nothing outside
/// the root changed, no temporary file is left.
fn assert_attack_refused(
    name: &str,
    world: &World,
    server: &FaultServer,
    root: &Path,
    active: &str,
    extra: &[&str],
    needles: &[&str],
) {
    let before = snapshot(&world.work(), &[root]);
    let out = world.update(root, &server.url(), extra);
    let message = assert_refused(&out, needles);
    assert!(
        message.contains(TOOL),
        "the error does not name the tool: {message}"
    );
    assert_active(root, world.tree(active), active);
    assert_same(
        &before,
        &snapshot(&world.work(), &[root]),
        &format!("{name}: outside the root"),
    );
    assert!(leftovers(root).is_empty(), "{name}: {:?}", leftovers(root));
    record_figures(
        &format!("attack-{name}"),
        &json!({"refused": true, "error": message}),
    );
}

fn latest_bytes(world: &World) -> String {
    world.mirror.manifest(TOOL, NEW).to_pretty_json()
}

#[test]
fn a_manifest_tampered_after_signing_is_refused() {
    let (world, server, root) = installed();
    let mut m = world.mirror.manifest(TOOL, NEW);
    m.files[0].size += 1;
    world
        .mirror
        .write_manifest_bytes(TOOL, "latest", m.to_pretty_json().as_bytes());
    assert_attack_refused(
        "tampered",
        &world,
        &server,
        &root,
        OLD,
        &[],
        &["manifest_hash", "altered"],
    );
}

#[test]
fn a_manifest_whose_hash_and_signature_were_recomputed_by_an_unknown_key_is_refused() {
    let (mut world, server, root) = installed();
    let other = TestKeys::other();
    let tree = world.tree(NEW).root().to_owned();
    world
        .mirror
        .publish(&tree, TOOL, "2.1.0", other.signing_key());
    assert_attack_refused(
        "unknown-key",
        &world,
        &server,
        &root,
        OLD,
        &[],
        &["not trusted", other.key_id().as_str()],
    );
}

#[test]
fn an_unsigned_manifest_is_refused() {
    let (world, server, root) = installed();
    let mut m = world.mirror.manifest(TOOL, NEW);
    m.signature = None;
    m.manifest_hash = m.compute_hash();
    world
        .mirror
        .write_manifest_bytes(TOOL, "latest", m.to_pretty_json().as_bytes());
    assert_attack_refused("unsigned", &world, &server, &root, OLD, &[], &["unsigned"]);
}

#[test]
fn a_duplicated_key_is_refused_whichever_copy_a_parser_would_keep() {
    let (world, server, root) = installed();
    let text = latest_bytes(&world);
    let needle = format!("\"tool_id\": \"{TOOL}\",");
    assert!(text.contains(&needle));
    for dup in [
        format!("{needle}\n  \"tool_id\": \"other-tool\","),
        format!("\"tool_id\": \"other-tool\",\n  {needle}"),
    ] {
        let hostile = text.replacen(&needle, &dup, 1);
        world
            .mirror
            .write_manifest_bytes(TOOL, "latest", hostile.as_bytes());
        assert_attack_refused(
            "duplicate-key",
            &world,
            &server,
            &root,
            OLD,
            &[],
            &["duplicate"],
        );
    }
}

#[test]
fn a_duplicated_signature_is_refused() {
    let (world, server, root) = installed();
    let good = world.mirror.manifest(TOOL, NEW);
    // A second signature object, from a key nobody trusts, before or after
    // the valid one: a verifier and an installer must never disagree on it.
    let mut forged = good.clone();
    tooldelta_core::signing::sign(&mut forged, TestKeys::other().signing_key());
    let forged_sig = serde_json::to_string(&forged.signature).unwrap();
    let text = good.to_pretty_json();
    let at = text.find("\"signature\":").expect("a signed manifest");
    for hostile in [
        format!(
            "{}\"signature\": {forged_sig},\n  {}",
            &text[..at],
            &text[at..]
        ),
        format!(
            "{}\n  ,\"signature\": {forged_sig}\n}}\n",
            text.trim_end().trim_end_matches('}')
        ),
    ] {
        world
            .mirror
            .write_manifest_bytes(TOOL, "latest", hostile.as_bytes());
        assert_attack_refused(
            "duplicate-signature",
            &world,
            &server,
            &root,
            OLD,
            &[],
            &["duplicate"],
        );
    }
}

#[test]
fn an_older_signed_manifest_replayed_as_latest_is_refused_as_a_rollback() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), NEW);
    world.mirror.replay_as_latest(TOOL, OLD);
    assert_attack_refused(
        "rollback-replay",
        &world,
        &server,
        &root,
        NEW,
        &[],
        &["rollback refused", OLD, NEW],
    );
    // Asked for by name it still needs the explicit flag.
    assert_attack_refused(
        "rollback-explicit",
        &world,
        &server,
        &root,
        NEW,
        &["--version", OLD],
        &["rollback refused", "--allow-downgrade"],
    );
}

#[test]
fn the_rollback_floor_survives_a_local_rollback() {
    let world = World::new();
    let server = world.server();
    let root = world.root("root");
    world.install(&root, &server.url(), OLD);
    world.update(&root, &server.url(), &[]).assert_success();
    let out = fault_support::tooldelta(&[
        "rollback".as_ref(),
        TOOL.as_ref(),
        "--root".as_ref(),
        root.as_os_str(),
    ]);
    out.assert_success();
    assert_active(&root, world.tree(OLD), OLD);
    // The user went back on purpose; a mirror replaying 1.0.0 as latest is
    // still an attack, and an update brings 2.0.0 back.
    world.mirror.replay_as_latest(TOOL, OLD);
    let before = fault_support::current_version(&root);
    let out = world.update(&root, &server.url(), &[]);
    assert_refused(&out, &["rollback refused"]);
    assert_eq!(fault_support::current_version(&root), before);
}

#[test]
fn an_expired_manifest_is_refused_as_a_freeze() {
    let (mut world, server, root) = installed();
    let opts = PublishOptions {
        tool_dir: world.tree(NEW).root().to_owned(),
        tool_id: TOOL.into(),
        version: "3.0.0".into(),
        base_url: None,
        created_at: None,
        expires_at: Some("2020-01-01T00:00:00Z".into()),
        chunks: None,
        release_notes: None,
    };
    let key = world.keys.signing_key().clone();
    world.mirror.publish_with(&opts, &key);
    assert_attack_refused(
        "expired",
        &world,
        &server,
        &root,
        OLD,
        &[],
        &["expired", "2020-01-01"],
    );
}

#[test]
fn a_validly_signed_manifest_for_another_tool_is_refused_as_mix_and_match() {
    let (mut world, server, root) = installed();
    let tree = world.tree(NEW).root().to_owned();
    let key = world.keys.signing_key().clone();
    let other = world.mirror.publish(&tree, "other-tool", NEW, &key);
    world
        .mirror
        .write_manifest_bytes(TOOL, "latest", other.to_pretty_json().as_bytes());
    assert_attack_refused(
        "mix-and-match",
        &world,
        &server,
        &root,
        OLD,
        &[],
        &["mix-and-match", "other-tool"],
    );
}

#[test]
fn a_manifest_served_for_another_version_than_asked_is_refused() {
    let (world, server, root) = installed();
    // The 2.0.0 route serves the (valid, newer-than-floor) 2.0.0 manifest
    // under the name 2.5.0.
    let bytes = latest_bytes(&world);
    world
        .mirror
        .write_manifest_bytes(TOOL, "2.5.0", bytes.as_bytes());
    assert_attack_refused(
        "wrong-version",
        &world,
        &server,
        &root,
        OLD,
        &["--version", "2.5.0"],
        &["2.5.0", NEW],
    );
}

#[test]
fn an_endless_manifest_is_cut_at_the_size_limit() {
    let (world, server, root) = installed();
    server
        .faults()
        .set(Rule::new(Fault::EndlessBody).path(StaticMirror::manifest_route(TOOL, "latest")));
    assert_attack_refused(
        "huge-manifest-endless",
        &world,
        &server,
        &root,
        OLD,
        &["--retries", "0"],
        &["larger than"],
    );
}

#[test]
fn a_manifest_announcing_a_huge_length_is_refused_before_reading_it() {
    let (world, server, root) = installed();
    server.faults().set(
        Rule::new(Fault::ExtraBytes(200 * 1024 * 1024))
            .path(StaticMirror::manifest_route(TOOL, "latest")),
    );
    assert_attack_refused(
        "huge-manifest-length",
        &world,
        &server,
        &root,
        OLD,
        &["--retries", "0"],
        &["larger than"],
    );
    // The 200 MiB were announced, never read.
    let sent = server
        .log()
        .stats(&StaticMirror::manifest_route(TOOL, "latest"))
        .bytes_sent;
    assert!(sent < 64 * 1024 * 1024, "{sent} bytes were read");
}
