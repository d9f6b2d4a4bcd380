//! Overall byte progress of a fetch phase, emitted at most about 10 times a
//! second however fast bytes arrive (progress events are lossy; phase and
//! file events are not throttled).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::events::{Event, Reporter};

/// Minimum time between two progress events.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Shared byte counters of one fetch phase.
#[derive(Debug)]
pub struct Progress {
    tool_id: String,
    total: u64,
    done: AtomicU64,
    downloaded: AtomicU64,
    started: Instant,
    last: Mutex<Option<Instant>>,
}

impl Progress {
    /// Counters for `total` bytes of `tool_id`.
    pub fn new(tool_id: &str, total: u64) -> Self {
        Self {
            tool_id: tool_id.to_owned(),
            total,
            done: AtomicU64::new(0),
            downloaded: AtomicU64::new(0),
            started: Instant::now(),
            last: Mutex::new(None),
        }
    }

    /// Bytes that arrived from the network.
    pub fn downloaded(&self, n: u64, reporter: &dyn Reporter) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.downloaded.fetch_add(n, Ordering::Relaxed);
        self.maybe_emit(reporter);
    }

    /// Bytes found in a partial file and kept.
    pub fn resumed(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes of a partial file thrown away (restart from zero).
    pub fn discarded(&self, n: u64) {
        // Saturating: never wrap below zero on a counting slip.
        let _ = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(n))
            });
    }

    /// Emits a progress event now (at the end of a phase).
    pub fn emit(&self, reporter: &dyn Reporter) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.downloaded.load(Ordering::Relaxed) as f64 / elapsed;
        reporter.report(&Event::Progress {
            tool_id: self.tool_id.clone(),
            bytes_done: self.done.load(Ordering::Relaxed).min(self.total),
            bytes_total: self.total,
            bytes_per_sec: rate as u64,
        });
    }

    fn maybe_emit(&self, reporter: &dyn Reporter) {
        let now = Instant::now();
        {
            let mut last = self.last.lock().expect("progress lock is never poisoned");
            if last.is_some_and(|t| now.duration_since(t) < PROGRESS_INTERVAL) {
                return;
            }
            *last = Some(now);
        }
        self.emit(reporter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(Mutex<Vec<Event>>);
    impl Reporter for Count {
        fn report(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    #[test]
    fn a_burst_of_chunks_emits_one_event_not_one_per_chunk() {
        let reporter = Count(Mutex::new(Vec::new()));
        let progress = Progress::new("t", 10_000);
        for _ in 0..1000 {
            progress.downloaded(10, &reporter);
        }
        let events = reporter.0.lock().unwrap();
        // A thousand chunks in far less than the interval: the first emits,
        // the rest are inside the window (bounded, whatever the machine speed).
        assert!(events.len() < 1000 / 2, "got {} events", events.len());
        assert!(matches!(events[0], Event::Progress { bytes_done: 10, .. }));
    }
}
