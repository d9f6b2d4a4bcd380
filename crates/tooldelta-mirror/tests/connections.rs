//! A mirror that holds a whole site (issue 17), tested on the real binary:
//! half-open connections under a soft descriptor limit of 1024, the global
//! and per-address connection limits, 2 000 concurrent range clients, and the
//! header, idle and send timeouts.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::process::{
    MirrorProcess, connect_from, get, raise_own_nofile_limit, read_response, workspace_bin,
};
use common::{Demo, sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The heavy tests run one at a time: each holds thousands of sockets.
static HEAVY: Mutex<()> = Mutex::new(());

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// What a slowloris client sends: a request head that never ends.
const HALF_HEAD: &[u8] = b"GET /api/v1/tools HTTP/1.1\r\nHost: mirror\r\n";

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `n` connections from `from`, each having sent half a request head.
async fn half_open(n: usize, from: IpAddr, to: std::net::SocketAddr) -> Vec<(TcpStream, Instant)> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        // Before connecting: the server's clock for it starts after this.
        let opened = Instant::now();
        let mut stream = connect_from(from, to).await.expect("connect");
        stream.write_all(HALF_HEAD).await.unwrap();
        held.push((stream, opened));
    }
    held
}

/// How long after it was opened each connection was closed by the server
/// (`None`: still open after `within`). An answer (a 503) counts as closed.
async fn closed_after(held: Vec<(TcpStream, Instant)>, within: Duration) -> Vec<Option<Duration>> {
    let waits = held.into_iter().map(|(mut stream, opened)| async move {
        let mut sink = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink);
        match tokio::time::timeout(within, read).await {
            Ok(_) => Some(opened.elapsed()),
            Err(_) => None,
        }
    });
    futures_util::future::join_all(waits).await
}

fn update(mirror: &str, root: &Path, trust: &Path) -> serde_json::Value {
    let out = Command::new(workspace_bin("tooldelta"))
        .args(["update", "demo", "--mirror", mirror, "--json"])
        .arg("--root")
        .arg(root)
        .arg("--trust")
        .arg(trust)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tooldelta update failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn half_open_connections_under_a_soft_limit_of_1024_neither_stop_an_update_nor_stay() {
    let _heavy = heavy();
    let hard = raise_own_nofile_limit();
    let demo = Demo::new();
    let header = Duration::from_secs(5);
    let mirror = MirrorProcess::start(
        demo.root(),
        Some((1024, hard)),
        &[
            "--header-timeout-secs",
            "5",
            "--max-connections-per-address",
            "0",
        ],
    );
    assert!(
        mirror
            .log()
            .contains(&format!("soft 1024 -> {hard}, hard {hard}")),
        "the raise of the descriptor limit is logged:\n{}",
        mirror.log()
    );
    let rt = runtime();
    let held = rt.block_on(half_open(1100, ATTACKER, mirror.addr));
    // All 1 100 are served at once: only possible above the 1024 it started with.
    mirror.wait_metric(
        "tooldelta_mirror_open_connections",
        Duration::from_secs(20),
        |n| n >= 1100,
    );

    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    let report = update(&mirror.url(), &root, &demo.hq.public_pem);
    assert_eq!(report["to_version"], "1.2.0");
    let model = std::fs::read(root.join("tools/demo/current/models/model.gguf")).unwrap();
    assert!(model == demo.model);

    let closed = rt.block_on(closed_after(held, header + Duration::from_secs(15)));
    for (i, after) in closed.iter().enumerate() {
        let after = after.unwrap_or_else(|| panic!("connection {i} still open 20 s later"));
        assert!(
            after >= header,
            "connection {i} closed after {after:?}, before the header timeout"
        );
    }
    assert!(mirror.metric("tooldelta_mirror_connection_timeouts_total{kind=\"header\"}") >= 1100);
    assert_eq!(mirror.metric("tooldelta_mirror_accept_errors_total"), 0);
    assert!(
        !mirror.log().contains("Too many open files"),
        "{}",
        mirror.log()
    );
}

#[test]
fn at_the_connection_limit_new_connections_get_a_503_and_open_ones_keep_working() {
    let _heavy = heavy();
    raise_own_nofile_limit();
    let demo = Demo::new();
    // Soft and hard 1024: nothing to raise; (1024 - 256) / 2 = 384 connections.
    let mirror = MirrorProcess::start(
        demo.root(),
        Some((1024, 1024)),
        &[
            "--max-connections-per-address",
            "0",
            "--connection-wait-secs",
            "0.5",
            "--header-timeout-secs",
            "120",
        ],
    );
    assert_eq!(mirror.metric("tooldelta_mirror_connection_limit"), 384);
    let rt = runtime();
    rt.block_on(async {
        let mut kept = connect_from(CLIENT, mirror.addr).await.unwrap();
        assert_eq!(get(&mut kept, "/healthz", "").await.unwrap().status, 200);
        // More than the descriptor limit: without the connection limit the
        // server would run out of descriptors.
        let held = half_open(1100, ATTACKER, mirror.addr).await;
        let refused = "tooldelta_mirror_connections_refused_total{reason=\"connection_limit\"}";
        let mut metrics = get(&mut kept, "/metrics", "").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !String::from_utf8_lossy(&metrics.body).contains(&format!("{refused} 717\n")) {
            assert!(
                Instant::now() < deadline,
                "{}",
                String::from_utf8_lossy(&metrics.body)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            metrics = get(&mut kept, "/metrics", "").await.unwrap();
        }
        // The connection opened before the flood still gets store files.
        let blob = format!("/api/v1/blobs/sha256/{}", sha256(&demo.model));
        let answer = get(&mut kept, &blob, "").await.unwrap();
        assert_eq!(answer.status, 200);
        assert!(answer.body == demo.model);
        // A new client waits its 0.5 s for a slot, then gets a fast 503.
        let mut late = connect_from(CLIENT, mirror.addr).await.unwrap();
        let started = Instant::now();
        let busy = get(&mut late, "/healthz", "").await.unwrap();
        assert_eq!(busy.status, 503, "{}", busy.head);
        assert!(busy.head.to_ascii_lowercase().contains("retry-after: 1"));
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(held);
    });
    assert_eq!(mirror.metric("tooldelta_mirror_accept_errors_total"), 0);
    assert!(
        !mirror.log().contains("Too many open files"),
        "{}",
        mirror.log()
    );
}

#[test]
fn one_address_over_its_cap_does_not_affect_another() {
    let demo = Demo::new();
    let mirror = MirrorProcess::start(demo.root(), None, &["--max-connections-per-address", "8"]);
    let rt = runtime();
    rt.block_on(async {
        let held = half_open(20, ATTACKER, mirror.addr).await;
        let reads = held.into_iter().map(|(mut stream, _)| async move {
            tokio::time::timeout(Duration::from_secs(2), read_response(&mut stream)).await
        });
        let (mut answered, mut still_open) = (0, 0);
        for read in futures_util::future::join_all(reads).await {
            match read {
                Ok(Ok(answer)) => {
                    assert_eq!(answer.status, 503, "{}", answer.head);
                    answered += 1;
                }
                Ok(Err(e)) => panic!("a refused connection must get its 503 first: {e}"),
                Err(_) => still_open += 1,
            }
        }
        assert_eq!((still_open, answered), (8, 12));
        // 127.0.0.1 is served as if 127.0.0.2 were not there.
        let blob = format!("/api/v1/blobs/sha256/{}", sha256(&demo.model));
        for _ in 0..8 {
            let mut client = connect_from(CLIENT, mirror.addr).await.unwrap();
            let range = get(&mut client, &blob, "Range: bytes=100-199\r\n")
                .await
                .unwrap();
            assert_eq!(range.status, 206);
            assert!(range.body == demo.model[100..200]);
        }
    });
    let refused = "tooldelta_mirror_connections_refused_total{reason=\"address_limit\"}";
    assert_eq!(mirror.metric(refused), 12);
}

#[test]
fn two_thousand_concurrent_range_clients_all_get_exact_bytes() {
    let _heavy = heavy();
    raise_own_nofile_limit();
    let demo = Demo::new();
    // Default limits: 2 000 clients from 8 addresses (a site's workstations),
    // 250 each, under the default cap of 256 per address.
    let mirror = MirrorProcess::start(demo.root(), None, &[]);
    let blob = format!("/api/v1/blobs/sha256/{}", sha256(&demo.model));
    let model = std::sync::Arc::new(demo.model.clone());
    let rt = runtime();
    let mut clients = Vec::new();
    rt.block_on(async {
        for i in 0..2000u32 {
            let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % 8) as u8));
            clients.push(connect_from(from, mirror.addr).await.expect("connect"));
        }
    });
    mirror.wait_metric(
        "tooldelta_mirror_open_connections",
        Duration::from_secs(30),
        |n| n >= 2000,
    );
    let errors = rt.block_on(async {
        let tasks = clients.into_iter().enumerate().map(|(i, mut stream)| {
            let (blob, model) = (blob.clone(), std::sync::Arc::clone(&model));
            tokio::spawn(async move {
                let mut errors = 0;
                for round in 0..3usize {
                    let len = 64 * 1024;
                    let start = (i * 7919 + round * 104_729) % (model.len() - len);
                    let range = format!("Range: bytes={start}-{}\r\n", start + len - 1);
                    match get(&mut stream, &blob, &range).await {
                        Ok(r) if r.status == 206 && r.body == model[start..start + len] => {}
                        _ => errors += 1,
                    }
                }
                errors
            })
        });
        let done = futures_util::future::join_all(tasks).await;
        done.into_iter().map(|r| r.unwrap()).sum::<u32>()
    });
    assert_eq!(errors, 0, "of 6 000 ranged requests on 2 000 connections");
    let refused = mirror
        .metric("tooldelta_mirror_connections_refused_total{reason=\"address_limit\"}")
        + mirror.metric("tooldelta_mirror_connections_refused_total{reason=\"connection_limit\"}");
    assert_eq!(refused, 0);
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_its_slot_reused() {
    let demo = Demo::new();
    let big = common::noise(9, 32 << 20);
    demo.hq
        .publish_into(&demo.store, "big", "1.0.0", &[("big.bin", &big)]);
    // One slot, so the next client can only be served once the stalled one is gone.
    let mirror = MirrorProcess::start(
        demo.root(),
        None,
        &[
            "--max-connections",
            "1",
            "--send-timeout-secs",
            "1",
            "--connection-wait-secs",
            "30",
        ],
    );
    let rt = runtime();
    rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stalled = socket.connect(mirror.addr).await.unwrap();
        let request = format!(
            "GET /api/v1/blobs/sha256/{} HTTP/1.1\r\nHost: mirror\r\n\r\n",
            sha256(&big)
        );
        stalled.write_all(request.as_bytes()).await.unwrap();
        // Give the server the slot's connection first, then queue behind it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut next = connect_from(CLIENT, mirror.addr).await.unwrap();
        let answer = get(&mut next, "/healthz", "Connection: close\r\n")
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "the stalled client's slot was reused");
        let mut received = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stalled, &mut received).await;
        assert!(
            received.len() < big.len(),
            "the stalled client was cut off mid-body"
        );
    });
    assert_eq!(
        mirror.metric("tooldelta_mirror_connection_timeouts_total{kind=\"send\"}"),
        1
    );
}

#[test]
fn an_idle_kept_alive_connection_is_closed_by_the_idle_timeout() {
    let demo = Demo::new();
    let mirror = MirrorProcess::start(
        demo.root(),
        None,
        &["--idle-timeout-secs", "1", "--header-timeout-secs", "30"],
    );
    let rt = runtime();
    let idle_for = rt.block_on(async {
        let mut client = connect_from(CLIENT, mirror.addr).await.unwrap();
        assert_eq!(get(&mut client, "/healthz", "").await.unwrap().status, 200);
        let answered = Instant::now();
        let mut rest = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(&mut client, &mut rest);
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("closed")
            .unwrap();
        answered.elapsed()
    });
    assert!(
        idle_for >= Duration::from_millis(900),
        "closed after {idle_for:?}"
    );
    assert_eq!(
        mirror.metric("tooldelta_mirror_connection_timeouts_total{kind=\"idle\"}"),
        1
    );
    assert_eq!(
        mirror.metric("tooldelta_mirror_connection_timeouts_total{kind=\"header\"}"),
        0
    );
}
