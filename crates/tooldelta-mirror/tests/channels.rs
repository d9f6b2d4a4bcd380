//! Channel documents in the mirror: import keeps the newest sequence, the
//! route serves the signed bytes, a site mirror pulls them through from HQ
//! (never going back to an older one), and `export` writes them for nginx.

mod common;

use common::{Demo, raw_get};
use tooldelta_core::channel::ChannelDocument;
use tooldelta_core::channel::issue::{ChannelRequest, issue};
use tooldelta_core::signing::TrustStore;
use tooldelta_mirror::{ChannelImportError, MirrorThread, ServeOptions, Store};

fn doc(demo: &Demo, version: &str, sequence: u64) -> ChannelDocument {
    let req = ChannelRequest {
        tool_id: "demo".into(),
        channel: "stable".into(),
        version: version.into(),
        rollout_percent: 100,
        ..ChannelRequest::default()
    };
    issue(&req, sequence, jiff::Timestamp::now(), &demo.hq.key).unwrap()
}

fn bytes(d: &ChannelDocument) -> Vec<u8> {
    d.to_pretty_json().into_bytes()
}

#[test]
fn import_keeps_the_newest_and_the_route_serves_the_signed_bytes() {
    let demo = Demo::new();
    let trust = demo.hq.trust();
    let first = bytes(&doc(&demo, "1.0.0", 5));
    let report = demo.store.import_channel(&first, &trust).unwrap();
    assert_eq!((report.outcome, report.sequence), ("stored", 5));
    assert_eq!(
        demo.store.import_channel(&first, &trust).unwrap().outcome,
        "unchanged"
    );
    let older = bytes(&doc(&demo, "1.2.0", 4));
    let err = demo.store.import_channel(&older, &trust).unwrap_err();
    assert!(
        matches!(
            err,
            ChannelImportError::NotNewer {
                offered: 4,
                stored: 5,
                ..
            }
        ),
        "{err}"
    );
    // Without keys the signature is reported, not required; with other keys it is.
    let unknown = TrustStore::new();
    let newer = bytes(&doc(&demo, "1.2.0", 6));
    let mut other = TrustStore::new();
    other.add(ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key());
    assert!(demo.store.import_channel(&newer, &other).is_err());
    assert_eq!(
        demo.store
            .import_channel(&newer, &unknown)
            .unwrap()
            .sequence,
        6
    );

    let mirror = MirrorThread::start(ServeOptions::new(demo.root())).unwrap();
    let answer = raw_get(mirror.addr(), "/api/v1/tools/demo/channels/stable.json");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, newer, "served byte for byte as signed");
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
    for missing in [
        "/api/v1/tools/demo/channels/beta.json",
        "/api/v1/tools/demo/channels/stable",
        "/api/v1/tools/demo/channels/..%2Fstable.json",
        "/api/v1/tools/nope/channels/stable.json",
    ] {
        assert_eq!(raw_get(mirror.addr(), missing).status, 404, "{missing}");
    }
}

#[test]
fn a_site_mirror_pulls_the_channel_through_and_never_goes_back() {
    let demo = Demo::new();
    let trust = demo.hq.trust();
    demo.store
        .import_channel(&bytes(&doc(&demo, "1.0.0", 5)), &trust)
        .unwrap();
    let hq = MirrorThread::start(ServeOptions::new(demo.root())).unwrap();
    let site_dir = tempfile::tempdir().unwrap();
    let mut options = ServeOptions::new(site_dir.path());
    options.upstream = Some(hq.url().to_owned());
    options.trust = trust.clone();
    options.refresh_interval = std::time::Duration::ZERO;
    let site = MirrorThread::start(options).unwrap();
    let get = || raw_get(site.addr(), "/api/v1/tools/demo/channels/stable.json");
    let first: ChannelDocument = serde_json::from_slice(&get().body).unwrap();
    assert_eq!(first.sequence, 5);
    // HQ moves on: the site follows.
    demo.store
        .import_channel(&bytes(&doc(&demo, "1.2.0", 6)), &trust)
        .unwrap();
    let second: ChannelDocument = serde_json::from_slice(&get().body).unwrap();
    assert_eq!((second.sequence, second.version.as_str()), (6, "1.2.0"));
    // HQ (or whoever answers as HQ) serves an older one: the site keeps the newer.
    let hq_file = demo.root().join("tools/demo/channels/stable.json");
    std::fs::write(&hq_file, bytes(&doc(&demo, "1.0.0", 2))).unwrap();
    let kept: ChannelDocument = serde_json::from_slice(&get().body).unwrap();
    assert_eq!(kept.sequence, 6);
    let site_store = Store::open(site_dir.path()).unwrap();
    assert!(site_store.read_channel("demo", "stable").unwrap().is_some());
}

#[test]
fn export_writes_the_channel_route_as_a_static_file() {
    let demo = Demo::new();
    let signed = bytes(&doc(&demo, "1.2.0", 9));
    demo.store
        .import_channel(&signed, &demo.hq.trust())
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = tooldelta_mirror::export(&demo.store, out.path()).unwrap();
    assert_eq!(report.channels, 1);
    let written = std::fs::read(out.path().join("api/v1/tools/demo/channels/stable.json")).unwrap();
    assert_eq!(written, signed);
}
