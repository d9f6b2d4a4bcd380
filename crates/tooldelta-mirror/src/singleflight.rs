//! Single-flight: however many requests ask for the same key at once, the work
//! runs once and every caller gets its result.
//!
//! The work is spawned, not run by the first caller, so a client that hangs up
//! does not cancel a download the others are waiting for (and a retry finds it
//! finished or still running).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

type Flights<T> = Arc<Mutex<HashMap<String, watch::Receiver<Option<T>>>>>;

/// Coalesces concurrent work by key.
#[derive(Debug)]
pub(crate) struct SingleFlight<T> {
    flights: Flights<T>,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        Self {
            flights: Arc::default(),
        }
    }
}

/// Removes the key when the work ends, even by panic.
struct Landing<T> {
    flights: Flights<T>,
    key: String,
}

impl<T> Drop for Landing<T> {
    fn drop(&mut self) {
        self.flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl<T: Clone + Send + Sync + 'static> SingleFlight<T> {
    /// Runs `work` unless work for `key` is already running, and returns its
    /// result. `work` must itself first check whether the result is already
    /// there (a flight that landed just before this call is not joined).
    /// `None` only if the work panicked.
    pub(crate) async fn run<F>(&self, key: &str, work: F) -> Option<T>
    where
        F: Future<Output = T> + Send + 'static,
    {
        let mut rx = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(rx) = flights.get(key) {
                rx.clone()
            } else {
                let (tx, rx) = watch::channel(None);
                flights.insert(key.to_owned(), rx.clone());
                let landing = Landing {
                    flights: Arc::clone(&self.flights),
                    key: key.to_owned(),
                };
                tokio::spawn(async move {
                    let out = work.await;
                    // The key goes first: a caller arriving now starts afresh and
                    // finds the result in the store.
                    drop(landing);
                    let _ = tx.send(Some(out));
                });
                rx
            }
        };
        let result = rx.wait_for(Option::is_some).await.ok()?;
        result.clone()
    }

    /// How many keys are in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.flights.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flights = Arc::new(SingleFlight::<usize>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, gate) = watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let flights = Arc::clone(&flights);
            let runs = Arc::clone(&runs);
            let mut gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                flights
                    .run("k", async move {
                        gate.wait_for(|open| *open).await.unwrap();
                        runs.fetch_add(1, Ordering::SeqCst) + 41
                    })
                    .await
            }));
        }
        // Current-thread runtime: these yields let every caller join first.
        for _ in 0..1000 {
            tokio::task::yield_now().await;
        }
        release.send(true).unwrap();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Some(41));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0);
    }
}
