//! The fast answer to a connection a limit refuses: `503` with `Retry-After`,
//! written without waiting for the request, then a short lingering close.
//!
//! Closing a socket with unread request bytes makes the kernel send a reset,
//! which can destroy the 503 before the client reads it; so what the client
//! sends is read and dropped for a moment first (nginx's lingering close).
//! Lingering costs a descriptor, so only a bounded number linger at once; the
//! rest are closed right after the answer.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::limits::Refusal;

/// How long a refused connection is drained before it is closed.
const LINGER: Duration = Duration::from_secs(1);
/// Bytes drained at most.
const LINGER_BYTES: usize = 64 * 1024;

/// Answers 503 on a plain-HTTP connection (a TLS one is just closed: a
/// plaintext answer would be garbage to it) and closes it.
pub(crate) async fn refuse(
    stream: TcpStream,
    refusal: Refusal,
    plain: bool,
    lingering: &Arc<Semaphore>,
) {
    if !plain {
        return;
    }
    let mut sink = [0u8; 4096];
    // What has already arrived is taken now, so the answer is not reset away.
    while matches!(stream.try_read(&mut sink), Ok(n) if n > 0) {}
    // A fresh socket's send buffer takes the whole answer at once; if it does
    // not, the client is not worth waiting for.
    if stream.try_write(&answer(refusal)).is_err() {
        return;
    }
    let Ok(_permit) = Arc::clone(lingering).try_acquire_owned() else {
        return;
    };
    let mut stream = stream;
    // TcpStream's shutdown is shutdown(SHUT_WR), done at once.
    let _ = stream.shutdown().await;
    let drain = async {
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The bytes of the 503 answer.
fn answer(refusal: Refusal) -> Vec<u8> {
    let body = format!("{{\"error\":\"{}\"}}", refusal.message());
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         cache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_a_complete_503_with_its_json_length() {
        let text = String::from_utf8(answer(Refusal::AddressLimit)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"], Refusal::AddressLimit.message());
    }
}
