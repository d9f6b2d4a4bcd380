//! Overall byte progress of a fetch phase, emitted at most about 10 times a
//! second however fast bytes arrive (progress events are lossy; phase and
//! file events are not throttled).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::events::{Event, Reporter};
use crate::rate::RateLimiter;

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
    cap: Option<Arc<RateLimiter>>,
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
            cap: None,
        }
    }

    /// Reports the cap of `limiter` in every progress event (the run is limited).
    #[must_use]
    pub fn capped(mut self, limiter: Option<Arc<RateLimiter>>) -> Self {
        self.cap = limiter;
        self
    }

    /// Bytes that arrived from the network.
    pub fn downloaded(&self, n: u64, reporter: &dyn Reporter) {
        self.downloaded_at(n, reporter, Instant::now());
    }

    /// [`Progress::downloaded`] at a given time (tests simulate the clock).
    fn downloaded_at(&self, n: u64, reporter: &dyn Reporter, now: Instant) {
        self.done.fetch_add(n, Ordering::Relaxed);
        self.downloaded.fetch_add(n, Ordering::Relaxed);
        self.maybe_emit(reporter, now);
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
            max_rate: self.cap.as_ref().and_then(|c| c.current()),
        });
    }

    fn maybe_emit(&self, reporter: &dyn Reporter, now: Instant) {
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

    fn done_of(event: &Event) -> u64 {
        match event {
            Event::Progress { bytes_done, .. } => *bytes_done,
            other => panic!("not a progress event: {other:?}"),
        }
    }

    #[test]
    fn at_most_one_event_per_interval_of_simulated_time_and_the_last_always_arrives() {
        let reporter = Count(Mutex::new(Vec::new()));
        let progress = Progress::new("t", 10_000);
        let start = Instant::now();
        // A chunk of 10 bytes every millisecond for one simulated second.
        for ms in 0..1000 {
            progress.downloaded_at(10, &reporter, start + Duration::from_millis(ms));
        }
        {
            let events = reporter.0.lock().unwrap();
            // One per 100 ms window: at 0, 100, …, 900 ms; each the count so far.
            let done: Vec<u64> = events.iter().map(done_of).collect();
            let expected: Vec<u64> = (0..10).map(|i| 10 * (i * 100 + 1)).collect();
            assert_eq!(done, expected);
        }
        // The end of the phase is always delivered, whatever the throttle says.
        progress.emit(&reporter);
        let events = reporter.0.lock().unwrap();
        assert_eq!(events.len(), 11);
        assert_eq!(done_of(events.last().unwrap()), 10_000);
    }
}
