//! Each fault switch does what it says, against a real client on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{Fixture, SIZE, assert_bytes, header, read_body};
use tooldelta_testkit::{EtagChange, Fault, RangeMutation, Rule};

#[tokio::test]
async fn ignore_range_answers_200_with_the_whole_body() {
    let f = Fixture::new();
    f.server.faults().set(Fault::IgnoreRange);
    let resp = f.get(Some("bytes=10-")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-range"), None);
    assert_bytes(&resp.bytes().await.unwrap(), &f.data);
}

#[tokio::test]
async fn cut_after_n_ends_the_body_with_an_error_after_n_bytes() {
    let f = Fixture::new();
    f.server.faults().set(Fault::CutAfter(1000));
    let resp = f.get(None).await;
    assert_eq!(header(&resp, "content-length"), Some(SIZE.to_string()));
    let (got, _, err) = read_body(resp).await;
    assert!(err.is_some(), "the body must fail, got {} bytes", got.len());
    assert_bytes(&got, &f.data[..1000]);
    let rec = &f.server.log().records_for(&f.route)[0];
    assert!(rec.cut);
    assert_eq!(rec.bytes_sent, 1000);
}

#[tokio::test]
async fn cut_applies_to_the_first_request_only_when_asked() {
    let f = Fixture::new();
    f.server
        .faults()
        .set(Rule::new(Fault::CutAfter(10)).first(1));
    assert!(read_body(f.get(None).await).await.2.is_some());
    let (got, _, err) = read_body(f.get(Some("bytes=10-")).await).await;
    assert!(err.is_none());
    assert_bytes(&got, &f.data[10..]);
}

#[tokio::test]
async fn corrupt_changes_exactly_one_byte_at_its_file_offset() {
    let f = Fixture::new();
    f.server.faults().set(Fault::CorruptByte(150_000));
    let whole = f.get(None).await.bytes().await.unwrap();
    let diffs: Vec<usize> = (0..SIZE).filter(|&i| whole[i] != f.data[i]).collect();
    assert_eq!(diffs, [150_000]);
    // A range that covers the offset is corrupted at the same file offset...
    let part = f
        .get(Some("bytes=149990-150009"))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(part[10], !f.data[150_000]);
    assert_eq!(part[..10], f.data[149_990..150_000]);
    // ...and one that does not is intact.
    let clean = f.get(Some("bytes=0-99")).await.bytes().await.unwrap();
    assert_bytes(&clean, &f.data[..100]);
}

#[tokio::test]
async fn extra_bytes_are_sent_past_the_end_of_the_file() {
    let f = Fixture::new();
    f.server.faults().set(Fault::ExtraBytes(100_000));
    let resp = f.get(None).await;
    assert_eq!(
        header(&resp, "content-length"),
        Some((SIZE + 100_000).to_string())
    );
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.len(), SIZE + 100_000);
    assert_bytes(&body[..SIZE], &f.data);
}

#[tokio::test]
async fn endless_body_keeps_sending_past_the_file() {
    let f = Fixture::new();
    f.server.faults().set(Fault::EndlessBody);
    let mut resp = f.get(None).await;
    assert_eq!(header(&resp, "content-length"), None);
    let mut got = 0;
    // Bounded: stop reading once well past the file.
    while got < SIZE + 1_000_000 {
        got += resp
            .chunk()
            .await
            .unwrap()
            .expect("an endless body never ends")
            .len();
    }
}

#[tokio::test]
async fn error_status_on_every_nth_or_the_first_n_requests() {
    let f = Fixture::new();
    f.server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(503)).every_nth(2));
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(f.get(None).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 503, 200, 503]);
    f.server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(500)).first(2));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(f.get(None).await.status().as_u16());
    }
    assert_eq!(statuses, [500, 500, 200]);
}

#[tokio::test]
async fn stall_sends_nothing_after_n_bytes_while_the_connection_stays_open() {
    let f = Fixture::new();
    f.server.faults().set(Fault::StallAfter {
        bytes: 100,
        duration: Duration::from_secs(30),
    });
    let client = reqwest::Client::builder()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let resp = client.get(f.url()).send().await.unwrap();
    let (got, _, err) = read_body(resp).await;
    assert_bytes(&got, &f.data[..100]);
    assert!(err.expect("the read must time out").is_timeout());
    // Without the stall the same client reads everything.
    f.server.faults().clear();
    let body = client.get(f.url()).send().await.unwrap().bytes().await;
    assert_bytes(&body.unwrap(), &f.data);
}

#[tokio::test]
async fn changed_etag_differs_per_request_and_voids_if_range() {
    let f = Fixture::new();
    let real = header(&f.get(None).await, "etag").unwrap();
    assert_eq!(real, format!("\"{}\"", f.sha));
    f.server
        .faults()
        .set(Fault::ChangeEtag(EtagChange::PerRequest));
    let a = header(&f.get(None).await, "etag").unwrap();
    let b = header(&f.get(None).await, "etag").unwrap();
    assert_ne!(a, real);
    assert_ne!(a, b);
    // Resuming with the tag of the first attempt: the file "changed", so 200.
    let resp = f
        .client
        .get(f.url())
        .header("range", "bytes=10-")
        .header("if-range", &real)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_bytes(&resp.bytes().await.unwrap(), &f.data);
}

#[tokio::test]
async fn etag_changes_after_the_first_request() {
    let f = Fixture::new();
    f.server
        .faults()
        .set(Rule::new(Fault::ChangeEtag(EtagChange::Fixed)).after(1));
    let first = header(&f.get(None).await, "etag").unwrap();
    assert_eq!(first, format!("\"{}\"", f.sha));
    let resumed = f
        .client
        .get(f.url())
        .header("range", "bytes=10-")
        .header("if-range", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    assert_ne!(header(&resumed, "etag").unwrap(), first);
}

#[tokio::test]
async fn content_range_mutations() {
    let f = Fixture::new();
    let cases = [
        (
            RangeMutation::StartOffByOne,
            Some(format!("bytes 11-19/{SIZE}")),
        ),
        (
            RangeMutation::StartAtZero,
            Some(format!("bytes 0-9/{SIZE}")),
        ),
        (
            RangeMutation::WrongTotal,
            Some(format!("bytes 10-19/{}", SIZE + 1)),
        ),
        (
            RangeMutation::UnknownTotal,
            Some("bytes 10-19/*".to_owned()),
        ),
        (RangeMutation::Garbage, Some("bytes garbage".to_owned())),
        (RangeMutation::Missing, None),
    ];
    for (mutation, expected) in cases {
        f.server.faults().set(Fault::ContentRange(mutation));
        let resp = f.get(Some("bytes=10-19")).await;
        assert_eq!(resp.status(), 206, "{mutation:?}");
        assert_eq!(header(&resp, "content-range"), expected, "{mutation:?}");
        assert_bytes(&resp.bytes().await.unwrap(), &f.data[10..20]);
    }
}

#[tokio::test]
async fn range_not_satisfiable_for_every_ranged_request_only() {
    let f = Fixture::new();
    f.server.faults().set(Fault::RangeNotSatisfiable);
    let resp = f.get(Some("bytes=0-")).await;
    assert_eq!(resp.status(), 416);
    assert_eq!(
        header(&resp, "content-range"),
        Some(format!("bytes */{SIZE}"))
    );
    assert_eq!(f.get(None).await.status(), 200);
}

#[tokio::test]
async fn throttle_paces_the_body_in_small_chunks() {
    let f = Fixture::new();
    // 1 MB/s in slots of 1/20 s: at most 50 000 bytes per chunk, so the
    // 200 000-byte body leaves in at least 4 chunks.
    f.server.faults().set(Fault::Throttle(1_000_000));
    let (got, chunks, err) = read_body(f.get(None).await).await;
    assert!(err.is_none());
    assert_bytes(&got, &f.data);
    assert!(chunks >= 2, "the client saw one lump");
    let rec = &f.server.log().records_for(&f.route)[0];
    assert!(rec.max_chunk <= 50_000, "{rec:?}");
    assert!(rec.chunks >= 4, "{rec:?}");
}

#[tokio::test]
async fn a_path_filter_limits_a_fault_to_one_url() {
    let f = Fixture::new();
    f.server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(503)).path(f.route.clone()));
    assert_eq!(f.get(None).await.status(), 503);
    let other = format!("{}/api/v1/tools/demo", f.server.url());
    assert_eq!(f.client.get(other).send().await.unwrap().status(), 200);
    f.server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(503)).path_prefix("/api/v1/tools/"));
    assert_eq!(f.get(None).await.status(), 200);
}

#[tokio::test]
async fn delay_response_holds_back_the_head() {
    let f = Fixture::new();
    f.server
        .faults()
        .set(Fault::DelayResponse(Duration::from_secs(30)));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.get(f.url()).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn the_log_counts_requests_ranges_and_bytes_per_path() {
    let f = Fixture::new();
    f.get(None).await.bytes().await.unwrap();
    f.get(Some("bytes=100-")).await.bytes().await.unwrap();
    f.client
        .get(format!("{}/nothing", f.server.url()))
        .send()
        .await
        .unwrap();
    let stats = f.server.log().stats(&f.route);
    assert_eq!(stats.count, 2);
    assert_eq!(stats.ranges, [None, Some("bytes=100-".to_owned())]);
    assert_eq!(stats.statuses, [200, 206]);
    assert_eq!(stats.bytes_sent, (2 * SIZE - 100) as u64);
    assert_eq!(f.server.log().count("/nothing"), 1);
    assert_eq!(f.server.log().total_requests(), 3);
}

#[tokio::test]
async fn faults_combine_cut_and_throttle() {
    let f = Fixture::new();
    f.server.faults().set(Fault::Throttle(2_000_000));
    f.server.faults().add(Fault::CutAfter(150_000));
    let (got, _, err) = read_body(f.get(None).await).await;
    assert!(err.is_some());
    assert_bytes(&got, &f.data[..150_000]);
}

#[tokio::test]
async fn body_faults_leave_head_and_error_answers_alone() {
    let f = Fixture::new();
    f.server.faults().set(Fault::ExtraBytes(10));
    f.server.faults().add(Fault::CorruptByte(0));
    let head = f.client.head(f.url()).send().await.unwrap();
    assert_eq!(
        header(&head, "content-length"),
        Some((SIZE + 10).to_string())
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let missing = f
        .client
        .get(format!("{}/missing", f.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "not found\n");
    for rec in f.server.log().records() {
        assert!(rec.method == "HEAD" || rec.status == 404, "{rec:?}");
        if rec.method == "HEAD" {
            assert_eq!(rec.bytes_sent, 0, "{rec:?}");
        }
    }
}
