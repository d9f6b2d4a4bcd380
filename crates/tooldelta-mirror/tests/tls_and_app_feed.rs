//! `serve --tls-cert/--tls-key` (rustls, ring) with a certificate made in the
//! test, and the desktop app's self-update feed.

mod common;

use common::{Demo, SCRIPT_V2, client, sha256};
use reqwest::StatusCode;
use tooldelta_mirror::app::AppReleaseInput;
use tooldelta_mirror::{RunningMirror, ServeError, ServeOptions, TlsFiles};

fn self_signed(dir: &std::path::Path) -> (TlsFiles, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, &cert_pem).unwrap();
    std::fs::write(&files.key, certified.signing_key.serialize_pem()).unwrap();
    (files, cert_pem)
}

#[tokio::test]
async fn tls_serves_the_api_to_a_client_that_trusts_the_certificate() {
    let demo = Demo::new();
    let keys = tempfile::tempdir().unwrap();
    let (tls, cert_pem) = self_signed(keys.path());
    let mut options = ServeOptions::new(demo.root());
    options.tls = Some(tls);
    let mirror = RunningMirror::start(options).await.unwrap();
    assert!(mirror.url().starts_with("https://localhost:"));

    tooldelta_mirror::install_crypto_provider();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let resp = trusting
        .get(format!(
            "{}/api/v1/tools/demo/latest/files/run.sh",
            mirror.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Over TLS the mirror offers h2 by ALPN, and the client (reqwest with
    // `http2`, as the engine's) takes it.
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.bytes().await.unwrap(), SCRIPT_V2);
    let ranged = trusting
        .get(format!(
            "{}/api/v1/blobs/sha256/{}",
            mirror.url(),
            sha256(&demo.model)
        ))
        .header(reqwest::header::RANGE, "bytes=-16")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        ranged.bytes().await.unwrap(),
        demo.model[demo.model.len() - 16..]
    );

    // A client that does not trust the certificate is refused by TLS.
    let stranger = client()
        .get(format!("{}/healthz", mirror.url()))
        .send()
        .await;
    assert!(stranger.is_err(), "an untrusted certificate must fail");
    // Plain HTTP on the TLS port gets no API answer.
    let plain = client()
        .get(format!("http://127.0.0.1:{}/healthz", mirror.addr().port()))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
}

#[tokio::test]
async fn a_missing_key_file_is_a_clear_error() {
    let demo = Demo::new();
    let keys = tempfile::tempdir().unwrap();
    let (mut tls, _) = self_signed(keys.path());
    tls.key = keys.path().join("missing.pem");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut options = ServeOptions::new(demo.root());
    options.tls = Some(tls);
    let err = tooldelta_mirror::serve(listener, options, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

/// Release 1.0.0 for linux/x86_64 with its artifact stored as a blob.
fn import_first_release(demo: &Demo, work: &std::path::Path) {
    let artifact = work.join("tooldelta-app_1.0.0_amd64.AppImage");
    std::fs::write(&artifact, b"pretend AppImage").unwrap();
    demo.store
        .import_app(&AppReleaseInput {
            target: "linux".into(),
            arch: "x86_64".into(),
            version: "1.0.0".into(),
            notes: "first".into(),
            pub_date: Some("2026-11-01T10:00:00Z".into()),
            signature: "c2lnbmF0dXJlIG9uZQ==\n".into(),
            url: None,
            artifact: Some(artifact),
        })
        .unwrap();
}

#[tokio::test]
async fn the_app_feed_offers_the_highest_newer_release_or_204() {
    let demo = Demo::new();
    let work = tempfile::tempdir().unwrap();
    import_first_release(&demo, work.path());
    let mirror = RunningMirror::start(ServeOptions::new(demo.root()))
        .await
        .unwrap();
    let c = client();
    let feed = |current: &str| format!("{}/api/v1/app/linux/x86_64/{current}", mirror.url());

    let resp = c.get(feed("0.9.0")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let offer: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    let blob_url = format!(
        "{}/api/v1/blobs/sha256/{}",
        mirror.url(),
        sha256(b"pretend AppImage")
    );
    assert_eq!(
        offer,
        serde_json::json!({
            "version": "1.0.0",
            "notes": "first",
            "pub_date": "2026-11-01T10:00:00Z",
            "url": blob_url,
            "signature": "c2lnbmF0dXJlIG9uZQ==",
        })
    );
    let artifact = c
        .get(&blob_url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(artifact, b"pretend AppImage".as_slice());

    assert_eq!(
        c.get(feed("1.0.0")).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(feed("2.0.0")).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(feed("not-a-version")).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let other_arch = format!("{}/api/v1/app/linux/aarch64/0.1.0", mirror.url());
    assert_eq!(
        c.get(other_arch).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );

    // A newer release added through the CLI, with an explicit URL.
    let sig = work.path().join("app.sig");
    std::fs::write(&sig, "c2lnbmF0dXJlIHR3bw==").unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_tooldelta-mirror"))
        .arg("import-app")
        .arg("--store")
        .arg(demo.root())
        .args([
            "--target",
            "linux",
            "--arch",
            "x86_64",
            "--version",
            "1.1.0",
        ])
        .arg("--signature")
        .arg(&sig)
        .args([
            "--url",
            "https://hq.example/app-1.1.0.AppImage",
            "--notes",
            "second",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let offer: serde_json::Value = serde_json::from_slice(
        &c.get(feed("1.0.0"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(offer["version"], "1.1.0");
    assert_eq!(offer["url"], "https://hq.example/app-1.1.0.AppImage");
    assert_eq!(offer["signature"], "c2lnbmF0dXJlIHR3bw==");
}
