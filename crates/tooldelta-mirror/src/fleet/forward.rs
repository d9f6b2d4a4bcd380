//! A site mirror forwards the reports it receives to its upstream (HQ) in
//! batches, from a background task: the newest report per workstation waits
//! in a bounded map (a workstation reporting twice before a flush is sent
//! once), failures are retried with backoff, and a full queue drops new
//! workstations (counted) rather than grow.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tooldelta_core::fleet::{MAX_BATCH, ReportBatch, WorkstationReport};

use super::gauges::FleetMetrics;

/// Most workstations waiting to be forwarded.
const MAX_QUEUED: usize = 50_000;
/// Longest wait between retries of a failed batch.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The forward queue.
#[derive(Debug)]
pub(crate) struct Forwarder {
    pending: Mutex<BTreeMap<String, WorkstationReport>>,
    wake: tokio::sync::Notify,
}

/// Where and how to forward.
#[derive(Debug, Clone)]
pub(crate) struct ForwardTarget {
    pub client: reqwest::Client,
    /// The upstream's report route.
    pub url: String,
    pub token: Option<String>,
    /// How long reports gather before a batch is sent.
    pub interval: Duration,
}

impl Forwarder {
    /// Starts the background task on the current runtime.
    pub fn start(target: ForwardTarget, metrics: FleetMetrics) -> Arc<Self> {
        let fwd = Arc::new(Self {
            pending: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        });
        tokio::spawn(Arc::clone(&fwd).run(target, metrics));
        fwd
    }

    /// Queues a report; `false` when the queue is full.
    pub fn enqueue(&self, report: WorkstationReport) -> bool {
        let mut pending = self.pending.lock().expect("forward queue lock");
        if pending.len() >= MAX_QUEUED && !pending.contains_key(&report.workstation_id) {
            return false;
        }
        let full_batch = pending.len() + 1 >= MAX_BATCH;
        pending.insert(report.workstation_id.clone(), report);
        drop(pending);
        if full_batch {
            self.wake.notify_one();
        }
        true
    }

    fn take_batch(&self) -> Vec<WorkstationReport> {
        let mut pending = self.pending.lock().expect("forward queue lock");
        let ids: Vec<String> = pending.keys().take(MAX_BATCH).cloned().collect();
        ids.iter().filter_map(|id| pending.remove(id)).collect()
    }

    /// Puts a failed batch back, unless a newer report of the same
    /// workstation arrived meanwhile.
    fn put_back(&self, batch: Vec<WorkstationReport>) {
        let mut pending = self.pending.lock().expect("forward queue lock");
        for report in batch {
            pending
                .entry(report.workstation_id.clone())
                .or_insert(report);
        }
    }

    async fn run(self: Arc<Self>, target: ForwardTarget, metrics: FleetMetrics) {
        let mut backoff = target.interval;
        loop {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = self.wake.notified() => {}
            }
            loop {
                let batch = self.take_batch();
                if batch.is_empty() {
                    backoff = target.interval;
                    break;
                }
                let n = batch.len() as u64;
                match send(&target, &batch).await {
                    Ok(()) => {
                        metrics.forwarded.inc_by(n);
                    }
                    Err(Failure::Retry(why)) => {
                        tracing::warn!(url = %target.url, error = %why, reports = n, "cannot forward fleet reports; retrying");
                        self.put_back(batch);
                        backoff = (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
                        break;
                    }
                    Err(Failure::Refused(why)) => {
                        // Retrying cannot help (a token or rule mismatch):
                        // workstations send a fresh report next cycle.
                        tracing::error!(url = %target.url, error = %why, reports = n, "upstream refused fleet reports; dropped");
                    }
                }
            }
        }
    }
}

enum Failure {
    Retry(String),
    Refused(String),
}

async fn send(target: &ForwardTarget, batch: &[WorkstationReport]) -> Result<(), Failure> {
    let body = serde_json::to_vec(&ReportBatch {
        reports: batch.to_vec(),
    })
    .expect("batches serialize");
    let mut request = target
        .client
        .post(&target.url)
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(60))
        .body(body);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Failure::Retry(tooldelta_core::explain::explain(&e).line))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text: String = response
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let why = format!("HTTP {status}: {}", text.trim());
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 404 {
        Err(Failure::Retry(why))
    } else {
        Err(Failure::Refused(why))
    }
}
