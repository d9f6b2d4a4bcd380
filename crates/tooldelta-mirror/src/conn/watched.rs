//! The transport under every client connection, and the three timeouts that
//! close it: a request head too slow to arrive (`header`), a connection idle
//! between requests (`idle`), a client that stops reading what we send
//! (`send`).
//!
//! hyper has no idle or send timeout for a server (hyper#1628, hyper#3852),
//! its HTTP/1 header timeout also runs while a keep-alive connection is idle,
//! and a timer on the response body cannot fire once hyper stops polling the
//! body under back-pressure. So:
//!
//! - the send timeout lives in the transport ([`Watched`]), which sees every
//!   write hyper attempts: pending for too long, it fails the write, and hyper
//!   drops the connection;
//! - the header and idle timeouts are kept by a [`watchdog`] running beside
//!   the connection, from what the transport (bytes read) and the service
//!   (requests begun and finished) report to the connection's [`Activity`];
//!   it does not depend on hyper polling the socket, which an idle HTTP/1
//!   connection is not always. When it fires, the connection is dropped.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep, sleep_until};

use super::metrics::ConnMetrics;

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutKind {
    /// A request head (or the TLS handshake before the first one) did not
    /// arrive in time.
    Header,
    /// No request for too long on a kept-alive connection.
    Idle,
    /// The client did not take any of our bytes for too long.
    Send,
}

impl TimeoutKind {
    /// The metric label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Idle => "idle",
            Self::Send => "send",
        }
    }
}

/// The three timeouts; `None` turns one off.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub header: Option<Duration>,
    pub idle: Option<Duration>,
    pub send: Option<Duration>,
}

/// What a connection is doing, shared by its transport (which reads and
/// writes) and its service (which sees requests begin and end).
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    /// Told when a deadline may have moved earlier (the watchdog re-reads).
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// Requests whose response has not been sent in full.
    in_flight: usize,
    /// Requests received so far.
    requests: u64,
    /// When the connection last started waiting for a request.
    waiting_since: Instant,
    /// When the first byte of the next request arrived (HTTP/1).
    head_started: Option<Instant>,
    /// HTTP/2: frames arrive between requests, so bytes do not mean a head.
    multiplexed: bool,
}

impl Activity {
    /// A connection accepted now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                requests: 0,
                waiting_since: Instant::now(),
                head_started: None,
                multiplexed: false,
            }),
            changed: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection speaks HTTP/2 (negotiated by ALPN).
    pub(crate) fn set_multiplexed(&self) {
        self.state().multiplexed = true;
    }

    /// A request arrived; it is in flight until the guard is dropped (when
    /// hyper has taken the whole response body, or gave up on it).
    pub(crate) fn begin(self: &Arc<Self>) -> Busy {
        let mut state = self.state();
        state.in_flight += 1;
        state.requests += 1;
        state.head_started = None;
        Busy(Arc::clone(self))
    }

    fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// When the next request must have arrived, and which timeout that is;
    /// `None` while a request is in flight (the send timeout watches those).
    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, TimeoutKind)> {
        let state = self.state();
        if state.in_flight > 0 {
            return None;
        }
        let head = timeouts.header.map(|t| (t, TimeoutKind::Header));
        let idle = timeouts.idle.map(|t| (t, TimeoutKind::Idle));
        let (since, (timeout, kind)) = if state.requests == 0 {
            // The first request, TLS handshake included, as nginx's
            // client_header_timeout.
            (state.waiting_since, head.or(idle)?)
        } else if let (Some(started), false) = (state.head_started, state.multiplexed) {
            (started, head?)
        } else {
            (state.waiting_since, idle?)
        };
        Some((since + timeout, kind))
    }
}

/// A request in flight (see [`Activity::begin`]).
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.waiting_since = Instant::now();
            state.head_started = None;
            drop(state);
            self.0.changed.notify_one();
        }
    }
}

/// Resolves with the timeout that ran out while the connection waited for a
/// request (the caller then drops the connection); pending forever while
/// requests keep coming in time.
pub(crate) async fn watchdog(activity: &Activity, timeouts: Timeouts) -> TimeoutKind {
    loop {
        // Registered before the state is read, so no change is missed.
        let changed = activity.changed.notified();
        let mut changed = std::pin::pin!(changed);
        changed.as_mut().enable();
        let Some((deadline, kind)) = activity.deadline(&timeouts) else {
            changed.await;
            continue;
        };
        if Instant::now() >= deadline {
            return kind;
        }
        tokio::select! {
            () = sleep_until(deadline) => {}
            () = changed => {}
        }
    }
}

/// A client transport: reports bytes read to the [`Activity`], enforces the
/// send timeout.
pub(crate) struct Watched<IO> {
    io: IO,
    activity: Arc<Activity>,
    send_timeout: Option<Duration>,
    send_timeouts: Counter,
    write_timer: Option<Pin<Box<Sleep>>>,
    /// When a write that is pending now must have made progress.
    write_deadline: Option<Instant>,
    /// Set once the send timeout fired: every later write fails too.
    expired: bool,
}

impl<IO> Watched<IO> {
    /// Wraps a freshly accepted connection.
    pub(crate) fn new(
        io: IO,
        activity: Arc<Activity>,
        send_timeout: Option<Duration>,
        metrics: &ConnMetrics,
    ) -> Self {
        Self {
            io,
            activity,
            send_timeout,
            send_timeouts: metrics.timeout(TimeoutKind::Send),
            write_timer: None,
            write_deadline: None,
            expired: false,
        }
    }

    /// Write side: `poll` is the transport's answer; pending for longer than
    /// the send timeout (no byte taken) ends the connection.
    fn watch_write<T>(
        &mut self,
        poll: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.write_deadline = None;
            return poll;
        }
        let Some(send) = self.send_timeout else {
            return Poll::Pending;
        };
        let deadline = *self
            .write_deadline
            .get_or_insert_with(|| Instant::now() + send);
        if elapsed(&mut self.write_timer, deadline, cx) {
            if !self.expired {
                self.expired = true;
                self.send_timeouts.inc();
            }
            return Poll::Ready(Err(send_timed_out()));
        }
        Poll::Pending
    }
}

fn send_timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "send timeout: the client took none of the response",
    )
}

/// Arms `timer` for `deadline` (registering the task's waker) and tells
/// whether it has passed.
fn elapsed(timer: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let timer = match timer {
        Some(t) => {
            if t.deadline() != deadline {
                t.as_mut().reset(deadline);
            }
            t
        }
        None => timer.insert(Box::pin(sleep_until(deadline))),
    };
    timer.as_mut().poll(cx).is_ready()
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        poll
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(Err(send_timed_out()));
        }
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch_write(poll, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(Err(send_timed_out()));
        }
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch_write(poll, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.watch_write(poll, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch_write(poll, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn timeouts(header: u64, idle: u64) -> Timeouts {
        Timeouts {
            header: Some(Duration::from_millis(header)),
            idle: Some(Duration::from_millis(idle)),
            send: None,
        }
    }

    fn kind(activity: &Activity, t: &Timeouts) -> Option<TimeoutKind> {
        activity.deadline(t).map(|(_, kind)| kind)
    }

    #[test]
    fn header_time_for_a_head_idle_time_between_requests_none_in_flight() {
        let t = timeouts(10_000, 60_000);
        let activity = Activity::new();
        assert_eq!(
            kind(&activity, &t),
            Some(TimeoutKind::Header),
            "first request"
        );
        let busy = activity.begin();
        assert_eq!(
            kind(&activity, &t),
            None,
            "in flight: the send timeout's job"
        );
        drop(busy);
        assert_eq!(kind(&activity, &t), Some(TimeoutKind::Idle), "kept alive");
        activity.bytes_read();
        assert_eq!(
            kind(&activity, &t),
            Some(TimeoutKind::Header),
            "a head began"
        );
        activity.set_multiplexed();
        assert_eq!(
            kind(&activity, &t),
            Some(TimeoutKind::Idle),
            "HTTP/2 frames between requests are no head"
        );
    }

    #[tokio::test]
    async fn the_watchdog_waits_out_a_request_then_fires_on_the_idle_time() {
        let t = timeouts(50, 100);
        let activity = Activity::new();
        let started = Instant::now();
        assert_eq!(watchdog(&activity, t).await, TimeoutKind::Header);
        assert!(started.elapsed() >= Duration::from_millis(50));

        let activity = Activity::new();
        let busy = activity.begin();
        let ends = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(busy);
        };
        let started = Instant::now();
        let (fired, ()) = tokio::join!(watchdog(&activity, t), ends);
        assert_eq!(fired, TimeoutKind::Idle);
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "200 ms busy + 100 ms idle"
        );
    }
}
