//! The real `tooldelta-mirror` binary as a child process (optionally under a
//! descriptor limit set with `prlimit`), its log, its metrics, and raw HTTP/1.1
//! over tokio sockets bound to a chosen loopback source address.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A binary of this workspace, next to the test executable's `deps/` folder
/// (`make test` builds every binary before running the tests).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (make test does)",
        path.display()
    );
    path
}

/// `tooldelta-mirror serve` on a free 127.0.0.1 port; killed on drop.
pub struct MirrorProcess {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl MirrorProcess {
    /// Serves `store` with `args` added; `nofile` = (soft, hard) descriptor
    /// limits to start it under.
    pub fn start(store: &Path, nofile: Option<(u64, u64)>, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("mirror.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mirror = env!("CARGO_BIN_EXE_tooldelta-mirror");
        let mut cmd = match nofile {
            Some((soft, hard)) => {
                let mut cmd = Command::new("prlimit");
                cmd.arg(format!("--nofile={soft}:{hard}"))
                    .arg("--")
                    .arg(mirror);
                cmd
            }
            None => Command::new(mirror),
        };
        cmd.args(["serve", "--listen", &addr.to_string(), "--store"])
            .arg(store)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd
            .spawn()
            .expect("starting tooldelta-mirror (prlimit is util-linux)");
        let mirror = Self {
            child,
            addr,
            log,
            _dir: dir,
        };
        mirror.wait_healthy();
        mirror
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "mirror did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value of one sample of `/metrics`, e.g.
    /// `tooldelta_mirror_connection_timeouts_total{kind="header"}`.
    pub fn metric(&self, sample: &str) -> u64 {
        let text = super::raw_get(self.addr, "/metrics");
        assert_eq!(text.status, 200);
        let text = String::from_utf8(text.body).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {sample} in:\n{text}"))
    }

    /// Polls `sample` until `ok` holds for it (or panics after `within`).
    pub fn wait_metric(&self, sample: &str, within: Duration, ok: impl Fn(u64) -> bool) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let value = self.metric(sample);
            if ok(value) {
                return value;
            }
            assert!(Instant::now() < deadline, "{sample} stayed at {value}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Raises this test process's soft descriptor limit to its hard one (the
/// tests hold thousands of sockets) and returns the hard limit.
pub fn raise_own_nofile_limit() -> u64 {
    let (limit, error) = tooldelta_mirror::raise_nofile_limit();
    assert!(error.is_none(), "raising RLIMIT_NOFILE: {error:?}");
    let hard = limit.hard.unwrap_or(1 << 20);
    assert!(
        hard >= 4096,
        "these tests need a hard descriptor limit of 4096 or more, not {hard}"
    );
    hard
}

/// A connection to `to` from the loopback address `from` (any 127.0.0.0/8).
pub async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// One response read off a kept-alive connection: status, head, body.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Sends `GET target` with `extra` header lines and reads one response
/// (its `Content-Length` body), leaving the connection open.
pub async fn get(stream: &mut TcpStream, target: &str, extra: &str) -> std::io::Result<Response> {
    let request = format!("GET {target} HTTP/1.1\r\nHost: mirror\r\n{extra}\r\n");
    stream.write_all(request.as_bytes()).await?;
    read_response(stream).await
}

/// Reads one response with a `Content-Length` body.
pub async fn read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut raw = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    Ok(Response { status, head, body })
}
