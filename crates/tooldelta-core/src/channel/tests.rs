use ed25519_dalek::SigningKey;
use jiff::Timestamp;

use super::rollout::{decide, in_rollout};
use super::*;
use crate::signing::{SignatureStatus, TrustStore};

fn doc(version: &str, previous: Option<&str>, percent: u8, sequence: u64) -> ChannelDocument {
    ChannelDocument {
        tool_id: "demo".into(),
        channel: "stable".into(),
        version: version.into(),
        previous: previous.map(Into::into),
        rollout_percent: percent,
        rollback: false,
        withdrawn: Vec::new(),
        sequence,
        issued_at: "2026-12-01T00:00:00Z".into(),
        expires_at: None,
        signature: None,
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn trust() -> TrustStore {
    let mut t = TrustStore::new();
    t.add(key().verifying_key());
    t
}

fn policy(trust: &TrustStore) -> ChannelPolicy<'_> {
    ChannelPolicy {
        trust,
        tool_id: "demo",
        channel: "stable",
        last_accepted: None,
        now: Timestamp::now(),
    }
}

fn signed(mut d: ChannelDocument) -> Vec<u8> {
    d.sign(&key());
    d.to_pretty_json().into_bytes()
}

#[test]
fn a_signed_document_verifies_and_every_alteration_is_refused() {
    let t = trust();
    let bytes = signed(doc("1.2.0", Some("1.1.0"), 25, 7));
    let ok = VerifiedChannel::verify(&bytes, &policy(&t)).unwrap();
    assert_eq!(ok.doc().sequence, 7);
    let tampered = String::from_utf8(bytes.clone())
        .unwrap()
        .replace("\"rollout_percent\": 25", "\"rollout_percent\": 100");
    let err = VerifiedChannel::verify(tampered.as_bytes(), &policy(&t)).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Signature {
                status: SignatureStatus::Invalid,
                ..
            }
        ),
        "{err}"
    );
    let unsigned = doc("1.2.0", None, 100, 1).to_pretty_json();
    let err = VerifiedChannel::verify(unsigned.as_bytes(), &policy(&t)).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Signature {
                status: SignatureStatus::Unsigned,
                ..
            }
        ),
        "{err}"
    );
    let other = TrustStore::new();
    let err = VerifiedChannel::verify(&bytes, &policy(&other)).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Signature {
                status: SignatureStatus::UnknownKey,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_manifest_signature_over_the_same_hash_is_not_a_channel_signature() {
    let t = trust();
    let mut d = doc("1.2.0", None, 100, 1);
    d.signature = Some(crate::signing::sign_hash(
        crate::signing::SIGNATURE_CONTEXT,
        &d.hash(),
        &key(),
    ));
    let err = VerifiedChannel::verify(d.to_pretty_json().as_bytes(), &policy(&t)).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Signature {
                status: SignatureStatus::Invalid,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn another_tool_an_expired_document_and_a_replay_are_refused() {
    let t = trust();
    let mut other = doc("1.2.0", None, 100, 1);
    other.tool_id = "other".into();
    let err = VerifiedChannel::verify(&signed(other), &policy(&t)).unwrap_err();
    assert!(matches!(err, ChannelError::WrongTarget { .. }), "{err}");

    let mut expired = doc("1.2.0", None, 100, 1);
    expired.expires_at = Some("2020-01-01T00:00:00Z".into());
    let err = VerifiedChannel::verify(&signed(expired), &policy(&t)).unwrap_err();
    assert!(matches!(err, ChannelError::Expired { .. }), "{err}");

    let newer = VerifiedChannel::verify(&signed(doc("1.2.0", None, 50, 5)), &policy(&t)).unwrap();
    let mut p = policy(&t);
    p.last_accepted = Some((5, newer.hash()));
    VerifiedChannel::verify(newer.bytes(), &p).unwrap();
    let err = VerifiedChannel::verify(&signed(doc("1.2.0", None, 100, 4)), &p).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelError::Replay {
                offered: 4,
                accepted: 5,
                ..
            }
        ),
        "{err}"
    );
    let err = VerifiedChannel::verify(&signed(doc("1.2.0", None, 100, 5)), &p).unwrap_err();
    assert!(
        matches!(err, ChannelError::Replay { .. }),
        "same sequence, other content: {err}"
    );
}

#[test]
fn unknown_fields_and_bad_values_are_refused() {
    let t = trust();
    let text = String::from_utf8(signed(doc("1.2.0", None, 100, 1)))
        .unwrap()
        .replacen('{', "{\"extra\": 1,", 1);
    assert!(VerifiedChannel::verify(text.as_bytes(), &policy(&t)).is_err());
    let err =
        VerifiedChannel::verify(&signed(doc("1.2.0", None, 101, 1)), &policy(&t)).unwrap_err();
    assert!(err.to_string().contains("rollout_percent"), "{err}");
}

#[test]
fn raising_the_percentage_only_adds_workstations() {
    let ids: Vec<String> = (0..500).map(|i| format!("ws-{i}")).collect();
    let mut previous: Vec<&String> = Vec::new();
    for percent in [0, 1, 10, 25, 50, 90, 100] {
        let inside: Vec<&String> = ids
            .iter()
            .filter(|id| in_rollout("demo", "1.2.0", id, percent))
            .collect();
        assert!(previous.iter().all(|id| inside.contains(id)), "{percent}%");
        previous = inside;
    }
    assert_eq!(previous.len(), 500);
    let quarter = ids
        .iter()
        .filter(|id| in_rollout("demo", "1.2.0", id, 25))
        .count();
    assert!((75..=175).contains(&quarter), "{quarter} of 500 at 25%");
}

#[test]
fn decide_stays_on_previous_halts_without_moving_back_and_rolls_back_only_when_signed() {
    let v = |s: &str| semver::Version::parse(s).unwrap();
    let d = doc("1.2.0", Some("1.1.0"), 25, 1);
    let inside = (0..100)
        .map(|i| format!("ws-{i}"))
        .find(|id| in_rollout("demo", "1.2.0", id, 25))
        .unwrap();
    let outside = (0..100)
        .map(|i| format!("ws-{i}"))
        .find(|id| !in_rollout("demo", "1.2.0", id, 25))
        .unwrap();
    assert_eq!(
        decide(&d, Some(&v("1.1.0")), &inside).target.as_deref(),
        Some("1.2.0")
    );
    assert_eq!(
        decide(&d, Some(&v("1.1.0")), &outside).target.as_deref(),
        Some("1.1.0")
    );
    assert_eq!(decide(&d, None, &outside).target.as_deref(), Some("1.1.0"));
    // Halted (0%): a workstation on 1.2.0 stays there.
    let halted = doc("1.2.0", Some("1.1.0"), 0, 2);
    let stay = decide(&halted, Some(&v("1.2.0")), &inside);
    assert_eq!(
        (stay.target.as_deref(), stay.rollback),
        (Some("1.2.0"), false)
    );
    // A signed rollback brings it back; a workstation on 1.1.0 does not move.
    let mut back = doc("1.1.0", None, 100, 3);
    back.rollback = true;
    back.withdrawn = vec!["1.2.0".into()];
    let down = decide(&back, Some(&v("1.2.0")), &inside);
    assert_eq!(
        (down.target.as_deref(), down.rollback),
        (Some("1.1.0"), true)
    );
    let same = decide(&back, Some(&v("1.1.0")), &outside);
    assert_eq!(
        (same.target.as_deref(), same.rollback),
        (Some("1.1.0"), false)
    );
    // A withdrawn version is never the target.
    let mut yanked = doc("1.2.0", Some("1.1.0"), 100, 4);
    yanked.withdrawn = vec!["1.2.0".into()];
    assert_eq!(
        decide(&yanked, Some(&v("1.1.0")), &inside)
            .target
            .as_deref(),
        Some("1.1.0")
    );
}

#[test]
fn the_workstation_id_is_generated_once_and_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let first = rollout::workstation_id(dir.path(), None).unwrap();
    assert_eq!(first.len(), 32);
    assert_eq!(rollout::workstation_id(dir.path(), None).unwrap(), first);
    assert_eq!(
        rollout::workstation_id(dir.path(), Some("ws-7")).unwrap(),
        "ws-7"
    );
}

#[test]
fn issue_signs_what_clients_accept_and_the_ledger_counts_up() {
    let t = trust();
    let req = issue::ChannelRequest {
        tool_id: "demo".into(),
        channel: "stable".into(),
        version: "1.2.0".into(),
        previous: Some("1.1.0".into()),
        rollout_percent: 25,
        expires_in: Some(issue::parse_duration("30d").unwrap()),
        ..Default::default()
    };
    let doc = issue::issue(&req, 3, Timestamp::now(), &key()).unwrap();
    let ok = VerifiedChannel::verify(doc.to_pretty_json().as_bytes(), &policy(&t)).unwrap();
    assert_eq!(ok.doc().rollout_percent, 25);
    assert!(issue::parse_duration("30x").is_err());
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("k.pem");
    let mut ledger = issue::Ledger::of_key(&key_path);
    assert_eq!(ledger.next("demo", "stable", 1000), 1000);
    ledger.record("demo", "stable", 1000).unwrap();
    assert_eq!(
        issue::Ledger::of_key(&key_path).next("demo", "stable", 5),
        1001
    );
    assert_eq!(issue::Ledger::of_key(&key_path).next("demo", "beta", 5), 5);
}
