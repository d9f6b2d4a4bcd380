//! Without faults the server answers like the mirror: single ranges, 416,
//! strong ETag, If-Range, If-None-Match, HEAD, folder indexes; over a folder
//! or forwarding to another server; and it stops cleanly.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{Fixture, SIZE, assert_bytes, client, header};
use tooldelta_testkit::{Fault, FaultServer};

#[tokio::test]
async fn whole_file_with_strong_etag_and_accept_ranges() {
    let f = Fixture::new();
    let resp = f.get(None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(header(&resp, "etag"), Some(format!("\"{}\"", f.sha)));
    assert_eq!(header(&resp, "content-length"), Some(SIZE.to_string()));
    assert_bytes(&resp.bytes().await.unwrap(), &f.data);
}

#[tokio::test]
async fn single_ranges_closed_open_and_suffix() {
    let f = Fixture::new();
    for (range, start, end) in [
        ("bytes=10-19", 10, 19),
        ("bytes=199990-", 199_990, SIZE - 1),
        ("bytes=-7", SIZE - 7, SIZE - 1),
        ("bytes=5-999999999", 5, SIZE - 1),
    ] {
        let resp = f.get(Some(range)).await;
        assert_eq!(resp.status(), 206, "{range}");
        assert_eq!(
            header(&resp, "content-range"),
            Some(format!("bytes {start}-{end}/{SIZE}")),
            "{range}"
        );
        assert_bytes(&resp.bytes().await.unwrap(), &f.data[start..=end]);
    }
}

#[tokio::test]
async fn unsatisfiable_range_is_416_with_the_size() {
    let f = Fixture::new();
    let resp = f.get(Some(&format!("bytes={SIZE}-"))).await;
    assert_eq!(resp.status(), 416);
    assert_eq!(
        header(&resp, "content-range"),
        Some(format!("bytes */{SIZE}"))
    );
}

#[tokio::test]
async fn if_range_with_the_etag_resumes_and_with_another_restarts() {
    let f = Fixture::new();
    let tag = format!("\"{}\"", f.sha);
    let ranged = |if_range: &str| {
        f.client
            .get(f.url())
            .header("range", "bytes=100-")
            .header("if-range", if_range)
            .send()
    };
    let resp = ranged(&tag).await.unwrap();
    assert_eq!(resp.status(), 206);
    assert_bytes(&resp.bytes().await.unwrap(), &f.data[100..]);
    let resp = ranged("\"other\"").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_bytes(&resp.bytes().await.unwrap(), &f.data);
}

#[tokio::test]
async fn if_none_match_gives_304() {
    let f = Fixture::new();
    let resp = f
        .client
        .get(f.url())
        .header("if-none-match", format!("\"{}\"", f.sha))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
}

#[tokio::test]
async fn head_has_the_headers_and_no_body() {
    let f = Fixture::new();
    let resp = f.client.head(f.url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-length"), Some(SIZE.to_string()));
    assert!(resp.bytes().await.unwrap().is_empty());
    assert_eq!(f.server.log().records()[0].bytes_sent, 0);
}

#[tokio::test]
async fn folders_answer_with_their_index_and_missing_paths_404() {
    let f = Fixture::new();
    let resp = f
        .client
        .get(format!("{}/api/v1/tools/demo", f.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(resp.text().await.unwrap(), "{\"tool_id\":\"demo\"}");
    let resp = f
        .client
        .get(format!("{}/api/v1/nothing", f.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn paths_that_escape_the_root_are_not_found() {
    let f = Fixture::new();
    // A secret beside the served folder.
    let served = f.dir.path().file_name().unwrap().to_str().unwrap();
    let secret = f
        .dir
        .path()
        .parent()
        .unwrap()
        .join(format!("{served}-secret"));
    std::fs::write(&secret, "secret").unwrap();
    let name = secret.file_name().unwrap().to_str().unwrap();
    for path in [
        format!("/../{name}"),
        format!("/%2e%2e/{name}"),
        format!("/api/..%2f..%2f{name}"),
        "/%2fetc/passwd".to_owned(),
    ] {
        // Raw HTTP: a client library would normalise the dots away.
        let mut conn = std::net::TcpStream::connect(f.server.addr()).unwrap();
        write!(
            conn,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        assert!(!answer.contains("secret"), "{path}");
    }
    std::fs::remove_file(secret).unwrap();
}

#[tokio::test]
async fn proxy_origin_forwards_ranges_and_faults_apply_on_top() {
    let f = Fixture::new();
    let proxy = FaultServer::proxy(&f.server.url());
    let url = format!("{}{}", proxy.url(), f.route);
    let c = client();
    let resp = c
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        header(&resp, "content-range"),
        Some(format!("bytes 100-199/{SIZE}"))
    );
    assert_eq!(header(&resp, "etag"), Some(format!("\"{}\"", f.sha)));
    assert_bytes(&resp.bytes().await.unwrap(), &f.data[100..200]);
    // Corruption is placed by file offset, even on a forwarded range.
    proxy.faults().set(Fault::CorruptByte(150));
    let part = c
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    let part = part.bytes().await.unwrap();
    assert_eq!(part[50], !f.data[150]);
    proxy.faults().set(Fault::IgnoreRange);
    let resp = c
        .get(&url)
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_bytes(&resp.bytes().await.unwrap(), &f.data);
    proxy.faults().set(Fault::RangeNotSatisfiable);
    let resp = c
        .get(&url)
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        header(&resp, "content-range"),
        Some(format!("bytes */{SIZE}"))
    );
    // The upstream saw the forwarded requests (HEAD for the 416 size).
    assert_eq!(f.server.log().count(&f.route), 4);
    drop(proxy);
}

#[test]
fn drop_frees_the_port_and_ends_stalled_connections() {
    let f = Fixture::new();
    f.server.faults().set(Fault::StallAfter {
        bytes: 10,
        duration: Duration::from_secs(3600),
    });
    let addr = f.server.addr();
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(conn, "GET {} HTTP/1.1\r\nHost: x\r\n\r\n", f.route).unwrap();
    let mut head = [0u8; 64];
    let n = conn.read(&mut head).unwrap();
    assert!(n > 0);
    let Fixture { server, dir, .. } = f;
    drop(server);
    // The stalled connection is closed, not left hanging: the read ends with
    // end-of-file or a reset, never with the read timeout (which is what a
    // connection the server forgot would give)...
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut rest = Vec::new();
    match conn.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
            "the stalled connection was left open: {e}"
        ),
    }
    // ...before the body it promised was complete (the stall never ended).
    let received = &[&head[..n], &rest[..]].concat();
    let body_start = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(received.len(), |i| i + 4);
    assert!(
        received.len() - body_start < SIZE,
        "the whole body arrived: the stall did not hold"
    );
    // ...and nobody listens on the port any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
    drop(dir);
}
