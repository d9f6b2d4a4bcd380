//! Raw HTTP/1.1 on 127.0.0.1: what a hostile or broken client sends, with
//! no client library normalizing it.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

/// A response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// `GET path`.
pub fn get(port: u16, path: &str) -> Reply {
    send(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
        &[],
    )
}

/// `POST path` with `body` and extra header lines (each ending in `\r\n`).
pub fn post(port: u16, path: &str, headers: &str, body: &[u8]) -> Reply {
    request(port, "POST", path, headers, body)
}

/// `METHOD path` with `body` and extra header lines.
pub fn request(port: u16, method: &str, path: &str, headers: &str, body: &[u8]) -> Reply {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    send(port, &head, body)
}

fn send(port: u16, head: &str, body: &[u8]) -> Reply {
    let fail = || Reply {
        status: 0,
        head: String::new(),
        body: Vec::new(),
    };
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return fail();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    if stream.write_all(head.as_bytes()).is_err() {
        return fail();
    }
    // The server may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body);
    let raw = read_response(&mut stream);
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return fail();
    };
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Reply { status, head, body }
}

/// Reads the head, then `Content-Length` bytes when given (a server that
/// keeps the connection open is not waited for), else until it closes.
fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let length = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "content-length").then(|| v.trim().parse::<usize>().ok())?
            });
            if let Some(length) = length {
                while raw.len() < split + 4 + length {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => raw.extend_from_slice(&buf[..n]),
                    }
                }
                return raw;
            }
            let _ = stream.read_to_end(&mut raw);
            return raw;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}
