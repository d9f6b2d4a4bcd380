use std::collections::BTreeMap;

use super::*;
use crate::manifest::FileEntry;

fn manifest(tool: &str, version: &str) -> Manifest {
    Manifest {
        manifest_version: "1.0".into(),
        tool_id: tool.into(),
        tool_version: version.into(),
        created_at: None,
        expires_at: None,
        release_notes: None,
        files: vec![FileEntry {
            path: "a.txt".into(),
            sha256: "b".repeat(64),
            size: 3,
            url: None,
            chunks: None,
            extra: BTreeMap::new(),
        }],
        packs: None,
        manifest_hash: String::new(),
        signature: None,
        extra: BTreeMap::new(),
    }
}

fn signed_bytes(m: &mut Manifest, key: &SigningKey) -> Vec<u8> {
    sign(m, key);
    m.to_pretty_json().into_bytes()
}

fn policy<'a>(trust: &'a TrustStore, tool: &'a str) -> TrustPolicy<'a> {
    TrustPolicy {
        trust,
        tool_id: tool,
        version: None,
        highest_accepted: None,
        allow_downgrade: false,
        now: jiff::Timestamp::now(),
    }
}

fn trust_of(keys: &[&SigningKey]) -> TrustStore {
    let mut trust = TrustStore::new();
    for k in keys {
        trust.add(k.verifying_key());
    }
    trust
}

#[test]
fn key_id_is_sha256_prefix_of_raw_public_key() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.verifying_key().as_bytes());
    assert_eq!(
        KeyId::of(&key.verifying_key()).as_str(),
        &hex::encode(digest)[..16]
    );
}

#[test]
fn signature_is_over_the_domain_separated_hash() {
    let key = generate_key();
    let mut m = manifest("demo", "1.0.0");
    sign(&mut m, &key);
    let sig = m.signature.as_ref().unwrap();
    let raw = BASE64.decode(&sig.signature).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&raw).unwrap();
    let message = format!("tooldelta-manifest-v1:{}", m.manifest_hash);
    key.verifying_key()
        .verify_strict(message.as_bytes(), &signature)
        .unwrap();
}

#[test]
fn valid_unknown_unsigned_invalid() {
    let (key, other) = (generate_key(), generate_key());
    let trust = trust_of(&[&key]);
    let mut m = manifest("demo", "1.0.0");
    let bytes = signed_bytes(&mut m, &key);
    let status = |b: &[u8], t: &TrustStore| check_signature(&Manifest::parse(b).unwrap(), t).status;
    assert_eq!(status(&bytes, &trust), SignatureStatus::Valid);
    assert_eq!(
        status(&bytes, &trust_of(&[&other])),
        SignatureStatus::UnknownKey
    );
    assert_eq!(
        status(
            manifest("demo", "1.0.0").to_pretty_json().as_bytes(),
            &trust
        ),
        SignatureStatus::Unsigned
    );
    let tampered = String::from_utf8(bytes)
        .unwrap()
        .replace("\"size\": 3", "\"size\": 4");
    assert_eq!(
        status(tampered.as_bytes(), &trust),
        SignatureStatus::Invalid
    );
}

#[test]
fn several_trusted_keys_allow_rotation() {
    let (old, new) = (generate_key(), generate_key());
    let trust = trust_of(&[&old, &new]);
    for key in [&old, &new] {
        let bytes = signed_bytes(&mut manifest("demo", "1.0.0"), key);
        VerifiedManifest::verify(&bytes, &policy(&trust, "demo")).unwrap();
    }
}

#[test]
fn verify_refuses_each_attack_by_name() {
    let key = generate_key();
    let trust = trust_of(&[&key]);
    let v2 = semver::Version::new(2, 0, 0);

    let bytes = signed_bytes(&mut manifest("other", "1.0.0"), &key);
    let err = VerifiedManifest::verify(&bytes, &policy(&trust, "demo")).unwrap_err();
    assert!(matches!(err, TrustError::WrongTool { .. }), "{err}");

    let bytes = signed_bytes(&mut manifest("demo", "1.0.0"), &key);
    let mut p = policy(&trust, "demo");
    p.highest_accepted = Some(&v2);
    let err = VerifiedManifest::verify(&bytes, &p).unwrap_err();
    assert!(
        matches!(
            err,
            TrustError::Rollback {
                explicit: false,
                ..
            }
        ),
        "{err}"
    );

    let v1 = semver::Version::new(1, 0, 0);
    p.version = Some(&v1);
    assert!(matches!(
        VerifiedManifest::verify(&bytes, &p),
        Err(TrustError::Rollback { explicit: true, .. })
    ));
    p.allow_downgrade = true;
    VerifiedManifest::verify(&bytes, &p).unwrap();

    p.version = Some(&v2);
    assert!(matches!(
        VerifiedManifest::verify(&bytes, &p),
        Err(TrustError::WrongVersion { .. })
    ));

    let mut expired = manifest("demo", "1.0.0");
    expired.expires_at = Some("2020-01-01T00:00:00Z".into());
    let bytes = signed_bytes(&mut expired, &key);
    let err = VerifiedManifest::verify(&bytes, &policy(&trust, "demo")).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    let mut hostile = manifest("demo", "1.0.0");
    hostile.files[0].path = "../escape".into();
    let bytes = signed_bytes(&mut hostile, &key);
    let err = VerifiedManifest::verify(&bytes, &policy(&trust, "demo")).unwrap_err();
    assert!(err.to_string().contains("path-dotdot"), "{err}");

    let bytes = manifest("demo", "1.0.0").to_pretty_json().into_bytes();
    let err = VerifiedManifest::verify(&bytes, &policy(&trust, "demo")).unwrap_err();
    assert!(
        matches!(
            err,
            TrustError::Signature {
                status: SignatureStatus::Unsigned,
                ..
            } | TrustError::HashMismatch { .. }
        ),
        "{err}"
    );
}

#[test]
fn verified_manifest_keeps_the_exact_bytes() {
    let key = generate_key();
    let trust = trust_of(&[&key]);
    let bytes = signed_bytes(&mut manifest("demo", "1.2.3"), &key);
    let verified = VerifiedManifest::verify(&bytes, &policy(&trust, "demo")).unwrap();
    assert_eq!(verified.bytes(), &bytes[..]);
    assert_eq!(verified.version(), &semver::Version::new(1, 2, 3));
    assert_eq!(verified.key_id(), KeyId::of(&key.verifying_key()).as_str());
}

#[test]
fn a_pre_release_is_refused_as_latest_and_accepted_by_name() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let trust = trust_of(&[&key]);
    let bytes = signed_bytes(&mut manifest("demo", "2.0.0-beta.1"), &key);
    let mut p = policy(&trust, "demo");
    let err = VerifiedManifest::verify(&bytes, &p).unwrap_err();
    assert!(
        matches!(err, TrustError::PrereleaseAsLatest { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("2.0.0-beta.1"), "{err}");
    let beta = semver::Version::parse("2.0.0-beta.1").unwrap();
    p.version = Some(&beta);
    VerifiedManifest::verify(&bytes, &p).unwrap();
}
