use std::io::Write as _;

use reqwest::Url;

use super::*;

/// An error that prints its source in its own message, as many libraries do.
#[derive(Debug)]
struct Echoing {
    what: &'static str,
    source: std::io::Error,
}

impl fmt::Display for Echoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl Error for Echoing {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// An error that names what it did and leaves the cause to its source.
#[derive(Debug)]
struct Layer {
    what: String,
    source: Box<dyn Error + Send + Sync + 'static>,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl Error for Layer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

fn denied() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::PermissionDenied)
}

#[test]
fn a_cause_the_message_already_prints_is_not_repeated() {
    let err = Echoing {
        what: "key file /k.pem",
        source: denied(),
    };
    let e = explain(&err);
    assert!(e.chain.is_empty(), "{:?}", e.chain);
    assert_eq!(e.line, err.to_string());
    assert_eq!(e.line.matches("ermission denied").count(), 1, "{}", e.line);
    assert!(e.hint.unwrap().contains(&current_user()));
}

#[test]
fn the_root_cause_joins_the_line_and_every_cause_is_listed_once() {
    let inner = Layer {
        what: "tcp connect error".into(),
        source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
    };
    let outer = Layer {
        what: "cannot fetch manifest http://127.0.0.1:9/api/v1/tools/t/latest/manifest.json".into(),
        source: Box::new(Layer {
            what: "tcp connect error".into(),
            source: Box::new(inner),
        }),
    };
    let e = explain(&outer);
    assert_eq!(e.chain, ["tcp connect error", "connection refused"]);
    assert!(e.line.ends_with(": connection refused"), "{}", e.line);
    assert_eq!(e.extra_causes().collect::<Vec<_>>(), ["tcp connect error"]);
    assert_eq!(classify(&outer), RootCause::Refused);
    let shown = e.to_string();
    assert_eq!(shown.matches("connection refused").count(), 1, "{shown}");
}

#[test]
fn a_name_resolution_failure_is_labelled_as_such() {
    let err = Layer {
        what: "cannot reach http://mirror.invalid/".into(),
        source: Box::new(Layer {
            what: "dns error".into(),
            source: Box::new(std::io::Error::other(
                "failed to lookup address information: Name or service not known",
            )),
        }),
    };
    let e = explain(&err);
    assert_eq!(classify(&err), RootCause::NameResolution);
    assert!(
        e.line
            .contains("name resolution failed: failed to lookup address"),
        "{}",
        e.line
    );
}

#[test]
fn hints_name_the_mirror_health_route_and_the_tls_mistake() {
    let url = "http://127.0.0.1:9/base/api/v1/tools/t/latest/manifest.json";
    let refused = for_root(RootCause::Refused, Some(url), None).unwrap();
    if proxy_for(&Url::parse(url).unwrap()).is_none() {
        assert!(
            refused.contains("curl http://127.0.0.1:9/base/healthz"),
            "{refused}"
        );
    }
    let plain = for_root(RootCause::TlsToPlainHttp, Some("https://h:8080/x"), None).unwrap();
    assert!(
        plain.contains("h:8080") && plain.contains("http://"),
        "{plain}"
    );
    let path = std::path::Path::new("/srv/root");
    let perm = for_root(RootCause::PermissionDenied, None, Some(path)).unwrap();
    assert!(
        perm.contains("/srv/root") && perm.contains("uid "),
        "{perm}"
    );
    assert_eq!(for_root(RootCause::Other, Some(url), None), None);
}

#[tokio::test]
async fn a_real_refused_connection_is_classified_from_reqwest_s_chain() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let err = client
        .get(format!("http://127.0.0.1:{port}/api/v1/tools"))
        .send()
        .await
        .unwrap_err();
    let e = explain(&err);
    assert_eq!(classify(&err), RootCause::Refused, "{e:?}");
    assert!(e.line.to_lowercase().contains("refused"), "{}", e.line);
    let hint = e.hint.unwrap();
    assert!(hint.contains(&format!("127.0.0.1:{port}")), "{hint}");
}

#[tokio::test]
async fn real_https_to_a_plain_http_port_is_classified_as_tls_to_plain_http() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let err = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap_err();
    let e = explain(&err);
    assert_eq!(classify(&err), RootCause::TlsToPlainHttp, "{e:?}");
    assert!(e.line.contains("TLS"), "{}", e.line);
    assert!(e.hint.unwrap().contains("plain HTTP"));
}
